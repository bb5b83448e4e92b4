import Markdown, { type Components } from "react-markdown";
import rehypeHighlight from "rehype-highlight";
import remarkGfm from "remark-gfm";
import { CopyButton } from "../CopyButton";
import "./markdown.css";

/** The text of a hast subtree: what a code block's copy button copies. */
function textOf(node: unknown): string {
  if (typeof node !== "object" || node === null) return "";
  if ("value" in node && typeof node.value === "string") return node.value;
  if ("children" in node && Array.isArray(node.children)) return node.children.map(textOf).join("");
  return "";
}

// Model output is untrusted: react-markdown never renders raw HTML (there is
// no rehype-raw here) and drops javascript: links; links open elsewhere.
const components: Components = {
  // Code blocks get their own copy button: the usual reason to open an answer.
  pre: ({ node, ...props }) => (
    <div className="group relative">
      <pre {...props} />
      <div className="absolute top-1.5 right-1.5 opacity-80 group-hover:opacity-100">
        <CopyButton text={textOf(node).replace(/\n$/, "")} label="Copy code" />
      </div>
    </div>
  ),
  a: ({ node: _node, ...props }) => (
    <a {...props} target="_blank" rel="noopener noreferrer nofollow" />
  ),
};

/**
 * Markdown as the model wrote it: GitHub's flavour (tables, task lists,
 * strikethrough) and highlighted code blocks. Loaded on demand, so the
 * parser and highlighter are only fetched by a page that shows output.
 */
export default function MarkdownView({ text }: { text: string }) {
  return (
    <div className="pl-markdown">
      <Markdown
        remarkPlugins={[remarkGfm]}
        rehypePlugins={[rehypeHighlight]}
        components={components}
      >
        {text}
      </Markdown>
    </div>
  );
}

import Markdown, { type Components } from "react-markdown";
import rehypeHighlight from "rehype-highlight";
import remarkGfm from "remark-gfm";
import "./markdown.css";

// Model output is untrusted: react-markdown never renders raw HTML (there is
// no rehype-raw here) and drops javascript: links; links open elsewhere.
const components: Components = {
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

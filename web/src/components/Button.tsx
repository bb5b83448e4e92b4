import type { ButtonHTMLAttributes } from "react";

/** The looks a button or button-like link can have. */
export type ButtonVariant = "primary" | "secondary" | "ghost" | "danger";

const base =
  "inline-flex items-center justify-center gap-2 rounded-lg font-medium transition-colors disabled:cursor-not-allowed disabled:opacity-60 whitespace-nowrap";
const sizes = { sm: "h-8 px-3 text-sm", md: "h-10 px-4 text-sm" } as const;
const variants: Record<ButtonVariant, string> = {
  primary: "bg-accent text-accent-fg shadow-sm hover:bg-accent-hover",
  secondary: "border border-line-strong bg-surface text-fg shadow-xs hover:bg-sunken",
  ghost: "text-fg-muted hover:bg-sunken hover:text-fg",
  danger: "bg-red-600 text-white shadow-sm hover:bg-red-700 dark:bg-red-700 dark:hover:bg-red-600",
};

/**
 * Class names for a button, so a `<Link>` that acts as one (e.g. "New task")
 * looks exactly like a `<button>`.
 */
export function buttonClass(
  variant: ButtonVariant = "secondary",
  size: "sm" | "md" = "md",
): string {
  return `${base} ${sizes[size]} ${variants[variant]}`;
}

/** Props for {@link Button}. */
export interface ButtonProps extends ButtonHTMLAttributes<HTMLButtonElement> {
  variant?: ButtonVariant;
  size?: "sm" | "md";
}

/** A button in the app's style; `type` defaults to "button" so it never submits by accident. */
export function Button({ variant, size, className, type = "button", ...rest }: ButtonProps) {
  return (
    <button type={type} className={`${buttonClass(variant, size)} ${className ?? ""}`} {...rest} />
  );
}

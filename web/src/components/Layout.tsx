import { Link, NavLink, Outlet } from "react-router";
import { AccountStatus, LocalModeNotice } from "../auth/AccountStatus";
import { AdminOnly } from "../auth/AdminOnly";
import { buttonClass } from "./Button";
import { ConnectionBanner } from "./ConnectionBanner";
import { ThemeToggle } from "./ThemeToggle";

const navLinkClass = ({ isActive }: { isActive: boolean }) =>
  `rounded-lg px-3 py-2 text-sm font-medium transition-colors ${
    isActive ? "bg-sunken text-fg" : "text-fg-muted hover:bg-sunken hover:text-fg"
  }`;

/** The frame of every page: header with the app name and nav, the connection banner, main. */
export function Layout() {
  return (
    <div className="flex min-h-dvh flex-col">
      <a
        href="#main"
        className="sr-only focus:not-sr-only focus:absolute focus:top-2 focus:left-2 focus:z-50 focus:rounded-lg focus:bg-surface focus:px-3 focus:py-2 focus:shadow"
      >
        Skip to content
      </a>
      <header className="sticky top-0 z-40 border-b border-line bg-surface/90 backdrop-blur">
        <div className="mx-auto flex min-h-14 max-w-6xl flex-wrap items-center justify-between gap-x-4 gap-y-2 px-4 py-2 sm:px-6">
          <Link to="/" className="flex items-center gap-2 rounded-lg font-semibold tracking-tight">
            <svg aria-hidden="true" viewBox="0 0 32 32" className="size-7">
              <rect width="32" height="32" rx="8" className="fill-accent" />
              <path
                d="M9 11l6 5-6 5"
                fill="none"
                stroke="white"
                strokeWidth="3"
                strokeLinecap="round"
                strokeLinejoin="round"
              />
              <path d="M17 21h6" stroke="white" strokeWidth="3" strokeLinecap="round" />
            </svg>
            <span className="max-sm:sr-only">Promptline</span>
          </Link>
          <nav aria-label="Main" className="flex items-center gap-1 sm:ms-auto sm:gap-2">
            <NavLink to="/" end className={navLinkClass}>
              Tasks
            </NavLink>
            {/* Its counts cover every user's tasks: admin-only RPCs. */}
            <AdminOnly>
              <NavLink to="/dashboard" className={navLinkClass}>
                Dashboard
              </NavLink>
            </AdminOnly>
            <NavLink to="/templates" className={navLinkClass}>
              Templates
            </NavLink>
            <NavLink to="/tasks/new" className={buttonClass("primary", "sm")}>
              New task
            </NavLink>
          </nav>
          <AccountStatus />
          <ThemeToggle />
        </div>
      </header>
      <LocalModeNotice />
      <ConnectionBanner />
      <main
        id="main"
        tabIndex={-1}
        className="mx-auto w-full max-w-6xl flex-1 px-4 py-6 sm:px-6 sm:py-8"
      >
        <Outlet />
      </main>
    </div>
  );
}

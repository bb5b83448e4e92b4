import { lazy, Suspense } from "react";
import { createBrowserRouter } from "react-router";
import { AuthGate } from "./auth/AuthGate";
import { SignInPage } from "./auth/SignInPage";
import { Layout } from "./components/Layout";
import { PageSkeleton } from "./components/PageSkeleton";
import { CrashPage } from "./pages/CrashPage";
import { NewTaskPage } from "./pages/NewTaskPage";
import { NotFoundPage } from "./pages/NotFoundPage";
import { TaskDetailPage } from "./pages/TaskDetailPage";
import { TaskListPage } from "./pages/TaskListPage";
import { NewTemplatePage, TemplatePage } from "./pages/TemplatePage";
import { TemplatesPage } from "./pages/TemplatesPage";

// Charts are the biggest dependency and only the dashboard draws them: its own chunk.
const DashboardPage = lazy(() =>
  import("./pages/DashboardPage").then((m) => ({ default: m.DashboardPage })),
);

/**
 * The app's URLs. They are real paths, so the server must answer any
 * non-API GET it doesn't know with index.html.
 */
export const router = createBrowserRouter([
  { path: "/sign-in", element: <SignInPage />, errorElement: <CrashPage /> },
  {
    element: (
      <AuthGate>
        <Layout />
      </AuthGate>
    ),
    children: [
      {
        errorElement: <CrashPage />,
        children: [
          { path: "/", element: <TaskListPage /> },
          { path: "/tasks/new", element: <NewTaskPage /> },
          { path: "/tasks/:id", element: <TaskDetailPage /> },
          { path: "/templates", element: <TemplatesPage /> },
          { path: "/templates/new", element: <NewTemplatePage /> },
          { path: "/templates/:id", element: <TemplatePage /> },
          {
            path: "/dashboard",
            element: (
              <Suspense fallback={<PageSkeleton title="Dashboard" />}>
                <DashboardPage />
              </Suspense>
            ),
          },
          { path: "*", element: <NotFoundPage /> },
        ],
      },
    ],
  },
]);

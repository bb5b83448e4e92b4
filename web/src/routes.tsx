import { createBrowserRouter } from "react-router";
import { AuthGate } from "./auth/AuthGate";
import { SignInPage } from "./auth/SignInPage";
import { Layout } from "./components/Layout";
import { CrashPage } from "./pages/CrashPage";
import { NewTaskPage } from "./pages/NewTaskPage";
import { NotFoundPage } from "./pages/NotFoundPage";
import { TaskDetailPage } from "./pages/TaskDetailPage";
import { TaskListPage } from "./pages/TaskListPage";
import { NewTemplatePage, TemplatePage } from "./pages/TemplatePage";
import { TemplatesPage } from "./pages/TemplatesPage";

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
          { path: "*", element: <NotFoundPage /> },
        ],
      },
    ],
  },
]);

import { createBrowserRouter } from "react-router";
import { Layout } from "./components/Layout";
import { CrashPage } from "./pages/CrashPage";
import { NewTaskPage } from "./pages/NewTaskPage";
import { NotFoundPage } from "./pages/NotFoundPage";
import { TaskDetailPage } from "./pages/TaskDetailPage";
import { TaskListPage } from "./pages/TaskListPage";

/**
 * The app's URLs. They are real paths, so the server must answer any
 * non-API GET it doesn't know with index.html.
 */
export const router = createBrowserRouter([
  {
    element: <Layout />,
    children: [
      {
        errorElement: <CrashPage />,
        children: [
          { path: "/", element: <TaskListPage /> },
          { path: "/tasks/new", element: <NewTaskPage /> },
          { path: "/tasks/:id", element: <TaskDetailPage /> },
          { path: "*", element: <NotFoundPage /> },
        ],
      },
    ],
  },
]);

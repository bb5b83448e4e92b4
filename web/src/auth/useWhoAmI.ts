import { useQuery } from "@connectrpc/connect-query";
import { AuthMode, AuthService } from "@promptline/proto";

/** Who this browser is signed in as, and the server's auth mode; shared by every caller. */
export function useWhoAmI() {
  const query = useQuery(
    AuthService.method.whoAmI,
    {},
    { retry: false, staleTime: 60_000, refetchOnWindowFocus: false },
  );
  return {
    ...query,
    localMode: query.data?.authMode === AuthMode.LOCAL,
  };
}

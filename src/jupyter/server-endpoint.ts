/** Where a Jupyter server answers and how to authenticate to it. */
export interface ServerEndpoint {
  /** http(s)://host:port/base/ — always with a trailing slash. */
  baseUrl: string;
  token: string;
  /** True when we started it (and so may shut it down). */
  embedded: boolean;
}

export function normaliseServerUrl(url: string): string {
  const parsed = new URL(url);
  if (!parsed.pathname.endsWith("/")) parsed.pathname += "/";
  parsed.search = "";
  parsed.hash = "";
  return parsed.toString();
}

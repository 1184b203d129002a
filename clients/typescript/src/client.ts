// A small typed fetch wrapper over the generated OpenAPI types (src/schema.d.ts).
// Paths, path/query parameters, request bodies and success bodies are all checked by tsc;
// errors come back as RFC 9457 problem documents in a thrown CrmProblem.
import type { components, paths } from "./schema";

export type Problem = components["schemas"]["ProblemDocument"];
type Method = "get" | "post" | "patch" | "put" | "delete";

type Operation<P extends keyof paths, M extends Method> = NonNullable<paths[P][M]>;
type Params<O> = O extends { parameters: infer R } ? R : never;
type PathParams<O> = Params<O> extends { path: infer X } ? X : never;
type QueryParams<O> = Params<O> extends { query?: infer X } ? X : never;
type JsonBody<O> = O extends { requestBody?: { content: { "application/json": infer B } } }
  ? B
  : never;
type Success<O> = O extends { responses: infer R }
  ? R extends { 200: { content: { "application/json": infer B } } }
    ? B
    : R extends { 201: { content: { "application/json": infer B } } }
      ? B
      : undefined
  : never;

export interface RequestOptions<O> {
  path?: PathParams<O>;
  query?: QueryParams<O>;
  body?: JsonBody<O>;
  ifMatch?: string;
  idempotencyKey?: string;
}

export interface Reply<T> {
  data: T;
  etag: string | null;
  status: number;
}

export class CrmProblem extends Error {
  constructor(readonly status: number, readonly problem: Problem) {
    super(`${status} ${problem.code}: ${problem.detail}`);
  }
}

export class CrmClient {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {}

  async request<P extends keyof paths, M extends Method & keyof paths[P]>(
    method: M,
    path: P,
    options: RequestOptions<Operation<P, M>> = {},
  ): Promise<Reply<Success<Operation<P, M>>>> {
    const url = new URL(this.baseUrl + fillPath(String(path), options.path));
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined && value !== null) url.searchParams.set(key, String(value));
    }
    const headers: Record<string, string> = { Authorization: `Bearer ${this.token}` };
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    if (options.ifMatch) headers["If-Match"] = options.ifMatch;
    if (options.idempotencyKey) headers["Idempotency-Key"] = options.idempotencyKey;
    const response = await this.fetchImpl(url, {
      method: method.toUpperCase(),
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    if (!response.ok) throw new CrmProblem(response.status, (await response.json()) as Problem);
    const data = response.status === 204 ? undefined : await response.json();
    return {
      data: data as Success<Operation<P, M>>,
      etag: response.headers.get("ETag"),
      status: response.status,
    };
  }
}

function fillPath(template: string, params: unknown): string {
  const values = (params ?? {}) as Record<string, unknown>;
  return template.replace(/\{(\w+)\}/g, (_, name: string) =>
    encodeURIComponent(String(values[name])),
  );
}

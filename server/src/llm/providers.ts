import { ProviderError } from "./errors.js";
import { createLimiter, type Limiter, type Permit, type PermitResult } from "./limiter.js";
import {
  type ClientTimeouts,
  createOpenAiClient,
  type OpenAiClient,
  type TokenUsage,
} from "./openai-client.js";

/** NVIDIA's hosted NIM endpoint, the `nim` provider's base URL unless configured otherwise. */
export const NIM_BASE_URL = "https://integrate.api.nvidia.com/v1";

/**
 * `nim`: NVIDIA NIM, hosted or self-hosted; serves bare NIM ids.
 * `simulator`: the built-in simulator; simulated, with fake prices.
 * `openai`: any other OpenAI-compatible endpoint (Ollama, vLLM, a gateway).
 */
export type ProviderKind = "nim" | "simulator" | "openai";

/** USD per million tokens, the way providers publish prices. */
export interface ModelPrice {
  inputPerMTok: number;
  outputPerMTok: number;
}

/**
 * Made-up prices for the simulator's models, so a demo shows what cost
 * tracking looks like. They are not the price of anything.
 */
export const SIMULATOR_PRICING: Readonly<Record<string, ModelPrice>> = {
  echo: { inputPerMTok: 0.1, outputPerMTok: 0.4 },
  lorem: { inputPerMTok: 0.2, outputPerMTok: 0.8 },
};

/**
 * One provider, as the config module builds it from the environment. The
 * registry reads nothing else: an API key given here goes to this provider's
 * base URL and nowhere else.
 */
export interface ProviderConfig {
  /** How model ids name it (`<name>/<model>`): letters, digits, `.`, `_`, `-`. */
  name: string;
  /** Defaults from the name: `nim` → nim, `simulator` → simulator, anything else → openai. */
  kind?: ProviderKind | undefined;
  /** Up to and including `/v1`. Optional for kind nim (hosted NIM); required otherwise. */
  baseUrl?: string | undefined;
  apiKey?: string | undefined;
  headers?: Record<string, string> | undefined;
  /** True for the simulator: the UI labels its models and answers as not real. */
  simulated: boolean;
  /** Prices by the provider's own model id; the simulator's fake prices are the default for kind simulator. */
  pricing?: Record<string, ModelPrice> | undefined;
  /** Requests in flight at once from this process; unset means no limit. */
  maxConcurrency?: number | undefined;
  /** Requests started per minute from this process; unset means no limit. */
  requestsPerMinute?: number | undefined;
  /** Estimated tokens (prompt and completion) started per minute from this process; unset means no limit. */
  tokensPerMinute?: number | undefined;
  timeouts?: Partial<ClientTimeouts> | undefined;
}

/** The registry's input. */
export interface ProviderRegistryOptions {
  providers: ProviderConfig[];
  /** Where a bare model id (one whose first segment is no provider's name) goes; `nim` by default. */
  bareModelProvider?: string | undefined;
  /** How long a provider's model list is reused. */
  modelsTtlMs?: number | undefined;
  /** How long a failed listing is remembered before the provider is asked again. */
  failureTtlMs?: number | undefined;
  /** How long one provider may take to list its models before it counts as down. */
  listTimeoutMs?: number | undefined;
}

/** A configured provider, without its secrets. */
export interface ProviderInfo {
  readonly name: string;
  readonly kind: ProviderKind;
  readonly baseUrl: string;
  readonly simulated: boolean;
  readonly pricing: Readonly<Record<string, ModelPrice>>;
}

/** A Promptline model id resolved to the provider that serves it and the id that provider knows. */
export interface ResolvedModel {
  /** The id as given, e.g. `simulator/echo` or `meta/llama-3.1-8b-instruct`. */
  modelId: string;
  provider: ProviderInfo;
  client: OpenAiClient;
  /** What goes in the request's `model` field, e.g. `echo`. */
  upstreamModel: string;
}

/** A model Promptline can run, for ListModels. */
export interface ListedModel {
  /** The Promptline id: resolving it leads back to this provider and model. */
  id: string;
  provider: string;
  /** `owned_by` from the provider; empty when it sent none. */
  ownedBy: string;
  contextLength: number | undefined;
  simulated: boolean;
  price: ModelPrice | undefined;
}

/** A provider whose model list could not be fetched. */
export interface ProviderFailure {
  provider: string;
  error: ProviderError;
}

/** Every reachable provider's models, and the providers that could not be asked. */
export interface ModelCatalog {
  models: ListedModel[];
  failures: ProviderFailure[];
}

/** The configured providers: resolves model ids, lists models, prices usage. */
export interface ProviderRegistry {
  readonly providers: readonly ProviderInfo[];
  /**
   * `provider/model` when the part before the first slash names a configured
   * provider; otherwise a bare NIM id for the `nim` provider (NIM ids contain
   * a slash themselves). Throws {@link UnknownModelError} for anything else.
   */
  resolve(modelId: string): ResolvedModel;
  /** Aggregated `/v1/models` of every provider, cached; one provider down leaves the others listed. */
  listModels(options?: { refresh?: boolean }): Promise<ModelCatalog>;
  /** Cost of a call in USD from the model's price; undefined when the model has no price. */
  costUsd(modelId: string, usage: TokenUsage): number | undefined;
  /**
   * Asks the model's provider for a permit to send one request, without
   * waiting: a worker asks before it claims a task and, when told
   * `retryInMs`, hands the job back so its slot can serve other providers.
   * `estimatedTokens` (`estimateTokens` of the request) counts against the
   * provider's tokens-per-minute limit. The permit must be released when the
   * call is done. A model id no provider serves gets a permit that limits
   * nothing: there is nobody to protect, and resolving it fails anyway.
   */
  tryAcquire(modelId: string, estimatedTokens?: number): PermitResult;
  /**
   * Whether the model's provider has a tokens-per-minute limit, so a permit
   * needs the request's token estimate (and a worker must read the prompt
   * before it claims).
   */
  limitsTokens(modelId: string): boolean;
  /**
   * Holds back every permit of the model's provider for `ms` (a 429's
   * `Retry-After`), so one rate limit costs one attempt instead of an attempt
   * of every task queued for that provider. Never shortens a pause.
   */
  pause(modelId: string, ms: number): void;
}

/** A model id no configured provider serves; the API answers InvalidArgument on the `model` field. */
export class UnknownModelError extends Error {
  override readonly name = "UnknownModelError";
  readonly field = "model";

  constructor(
    readonly modelId: string,
    message: string,
  ) {
    super(message);
  }
}

/** A provider configuration that cannot work; thrown at start so it is fixed before any task runs. */
export class ProviderConfigError extends Error {
  override readonly name = "ProviderConfigError";
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

interface Provider {
  info: ProviderInfo;
  client: OpenAiClient;
  limiter: Limiter;
  limitsTokens: boolean;
}

const UNLIMITED: Permit = { release: () => {} };

interface Listing {
  expiresAt: number;
  result: Promise<ListedModel[] | ProviderError>;
}

/** Validates the configuration and builds one client per provider. */
export function createProviderRegistry(options: ProviderRegistryOptions): ProviderRegistry {
  const byName = new Map<string, Provider>();
  for (const config of options.providers) {
    const provider = buildProvider(config);
    if (byName.has(provider.info.name)) {
      throw new ProviderConfigError(`provider ${JSON.stringify(config.name)} is configured twice`);
    }
    byName.set(provider.info.name, provider);
  }
  return new Registry(byName, options);
}

function buildProvider(config: ProviderConfig): Provider {
  const { name } = config;
  if (!NAME.test(name)) {
    throw new ProviderConfigError(
      `provider name ${JSON.stringify(name)} must be letters, digits, '.', '_' or '-' (no '/')`,
    );
  }
  const kind: ProviderKind =
    config.kind ?? (name === "nim" ? "nim" : name === "simulator" ? "simulator" : "openai");
  const baseUrl = config.baseUrl ?? (kind === "nim" ? NIM_BASE_URL : undefined);
  if (baseUrl === undefined) throw new ProviderConfigError(`provider ${name} needs a base URL`);
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new ProviderConfigError(
      `provider ${name}: base URL ${JSON.stringify(baseUrl)} is not a URL`,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ProviderConfigError(`provider ${name}: base URL must be http or https`);
  }
  if (url.username !== "" || url.password !== "") {
    throw new ProviderConfigError(
      `provider ${name}: put credentials in apiKey, not in the base URL`,
    );
  }
  const pricing = { ...(kind === "simulator" ? SIMULATOR_PRICING : {}), ...config.pricing };
  for (const [model, price] of Object.entries(pricing)) {
    if (!(price.inputPerMTok >= 0 && price.outputPerMTok >= 0)) {
      throw new ProviderConfigError(`provider ${name}: price of ${model} must be non-negative`);
    }
  }
  for (const key of ["maxConcurrency", "requestsPerMinute", "tokensPerMinute"] as const) {
    const limit = config[key];
    if (limit !== undefined && !(Number.isSafeInteger(limit) && limit > 0)) {
      throw new ProviderConfigError(`provider ${name}: ${key} must be a whole number above 0`);
    }
  }
  const client = createOpenAiClient({
    name,
    baseUrl,
    apiKey: config.apiKey,
    headers: config.headers,
    timeouts: config.timeouts,
  });
  return {
    info: { name, kind, baseUrl: client.baseUrl, simulated: config.simulated, pricing },
    client,
    limiter: createLimiter({
      maxConcurrency: config.maxConcurrency,
      requestsPerMinute: config.requestsPerMinute,
      tokensPerMinute: config.tokensPerMinute,
    }),
    limitsTokens: config.tokensPerMinute !== undefined,
  };
}

class Registry implements ProviderRegistry {
  readonly providers: readonly ProviderInfo[];
  readonly #byName: Map<string, Provider>;
  readonly #bareName: string;
  readonly #modelsTtlMs: number;
  readonly #failureTtlMs: number;
  readonly #listTimeoutMs: number;
  readonly #listings = new Map<string, Listing>();

  constructor(byName: Map<string, Provider>, options: ProviderRegistryOptions) {
    this.#byName = byName;
    this.providers = [...byName.values()].map((p) => p.info);
    this.#bareName = options.bareModelProvider ?? "nim";
    this.#modelsTtlMs = options.modelsTtlMs ?? 60_000;
    this.#failureTtlMs = options.failureTtlMs ?? 5_000;
    this.#listTimeoutMs = options.listTimeoutMs ?? 5_000;
  }

  resolve(modelId: string): ResolvedModel {
    const found = this.#lookup(modelId);
    if (found !== undefined) return found;
    throw new UnknownModelError(modelId, this.#explainUnknown(modelId));
  }

  costUsd(modelId: string, usage: TokenUsage): number | undefined {
    const found = this.#lookup(modelId);
    const price = found?.provider.pricing[found.upstreamModel];
    if (price === undefined) return undefined;
    return (
      (usage.promptTokens * price.inputPerMTok + usage.completionTokens * price.outputPerMTok) / 1e6
    );
  }

  tryAcquire(modelId: string, estimatedTokens?: number): PermitResult {
    const provider = this.#providerOf(modelId);
    return provider === undefined ? UNLIMITED : provider.limiter.tryAcquire(estimatedTokens);
  }

  limitsTokens(modelId: string): boolean {
    return this.#providerOf(modelId)?.limitsTokens ?? false;
  }

  pause(modelId: string, ms: number): void {
    this.#providerOf(modelId)?.limiter.pause(ms);
  }

  async listModels(options: { refresh?: boolean } = {}): Promise<ModelCatalog> {
    const catalog: ModelCatalog = { models: [], failures: [] };
    const providers = [...this.#byName.values()];
    const results = await Promise.all(
      providers.map((p) => this.#listing(p, options.refresh === true)),
    );
    results.forEach((result, i) => {
      const provider = providers[i];
      if (provider === undefined) return;
      if (result instanceof ProviderError)
        catalog.failures.push({ provider: provider.info.name, error: result });
      else catalog.models.push(...result);
    });
    return catalog;
  }

  #providerOf(modelId: string): Provider | undefined {
    const found = this.#lookup(modelId);
    return found === undefined ? undefined : this.#byName.get(found.provider.name);
  }

  #lookup(modelId: string): ResolvedModel | undefined {
    const slash = modelId.indexOf("/");
    if (slash <= 0) return undefined;
    const named = this.#byName.get(modelId.slice(0, slash));
    if (named !== undefined) {
      const upstreamModel = modelId.slice(slash + 1);
      return upstreamModel.trim() === ""
        ? undefined
        : { modelId, provider: named.info, client: named.client, upstreamModel };
    }
    const bare = this.#byName.get(this.#bareName);
    if (bare === undefined || /\s/.test(modelId) || modelId.endsWith("/")) return undefined;
    return { modelId, provider: bare.info, client: bare.client, upstreamModel: modelId };
  }

  #explainUnknown(modelId: string): string {
    const names = [...this.#byName.keys()];
    const configured =
      names.length === 0 ? "none are configured" : `configured: ${names.join(", ")}`;
    if (modelId.trim() === "") return "must name a model, e.g. simulator/echo";
    const slash = modelId.indexOf("/");
    if (slash <= 0) {
      return `${JSON.stringify(modelId)} is not a model id: use provider/model (providers ${configured}) or a NIM id like meta/llama-3.1-8b-instruct`;
    }
    const prefix = modelId.slice(0, slash);
    if (this.#byName.has(prefix))
      return `${JSON.stringify(modelId)} names provider ${prefix} but no model`;
    if (!this.#byName.has(this.#bareName)) {
      return `no provider is named ${JSON.stringify(prefix)} and ${this.#bareName} is not configured for bare NIM ids like ${JSON.stringify(modelId)} (providers ${configured})`;
    }
    return `${JSON.stringify(modelId)} is not a valid model id`;
  }

  /** The provider's listing, shared by concurrent callers and cached; a failure is cached briefly. */
  #listing(provider: Provider, refresh: boolean): Promise<ListedModel[] | ProviderError> {
    const now = performance.now();
    const cached = this.#listings.get(provider.info.name);
    if (cached !== undefined && !refresh && cached.expiresAt > now) return cached.result;
    const listing: Listing = { expiresAt: now + this.#modelsTtlMs, result: Promise.resolve([]) };
    listing.result = provider.client.listModels({ timeoutMs: this.#listTimeoutMs }).then(
      (models) => models.map((m) => this.#listed(provider, m.id, m.ownedBy, m.contextLength)),
      (error: unknown) => {
        listing.expiresAt = performance.now() + this.#failureTtlMs;
        return error instanceof ProviderError
          ? error
          : new ProviderError({
              code: "PROVIDER_BAD_RESPONSE",
              message: "the model list could not be read",
              provider: provider.info.name,
              cause: error,
            });
      },
    );
    this.#listings.set(provider.info.name, listing);
    return listing.result;
  }

  #listed(
    provider: Provider,
    upstreamId: string,
    ownedBy: string | undefined,
    contextLength: number | undefined,
  ): ListedModel {
    const { info } = provider;
    const slash = upstreamId.indexOf("/");
    const bareWorks =
      info.name === this.#bareName && slash > 0 && !this.#byName.has(upstreamId.slice(0, slash));
    return {
      id: bareWorks ? upstreamId : `${info.name}/${upstreamId}`,
      provider: info.name,
      ownedBy: ownedBy ?? "",
      contextLength,
      simulated: info.simulated,
      price: info.pricing[upstreamId],
    };
  }
}

import { ProviderError } from "../llm/errors.js";
import type { OpenAiClient } from "../llm/openai-client.js";
import type { ProviderRegistry, ResolvedModel } from "../llm/providers.js";
import type { Metrics } from "./metrics.js";

/**
 * The registry a worker calls providers through, with every chat request
 * counted: status, duration, tokens and cost. The runner needs no metrics
 * code of its own, and a request is counted once whichever attempt, retry
 * or cancellation it belongs to.
 */
export function instrumentProviders(
  registry: ProviderRegistry,
  metrics: Metrics,
): ProviderRegistry {
  return {
    get providers() {
      return registry.providers;
    },
    resolve(modelId: string): ResolvedModel {
      const resolved = registry.resolve(modelId);
      return { ...resolved, client: instrumentClient(resolved, registry, metrics) };
    },
    listModels: (options) => registry.listModels(options),
    costUsd: (modelId, usage) => registry.costUsd(modelId, usage),
    tryAcquire: (modelId, estimatedTokens) => registry.tryAcquire(modelId, estimatedTokens),
    limitsTokens: (modelId) => registry.limitsTokens(modelId),
    pause: (modelId, ms) => registry.pause(modelId, ms),
  };
}

function instrumentClient(
  resolved: ResolvedModel,
  registry: ProviderRegistry,
  metrics: Metrics,
): OpenAiClient {
  const client = resolved.client;
  const base = { provider: resolved.provider.name, model: resolved.modelId };
  return {
    name: client.name,
    baseUrl: client.baseUrl,
    listModels: (options) => client.listModels(options),
    async chat(request, options) {
      const started = performance.now();
      try {
        const result = await client.chat(request, options);
        metrics.providerRequest({
          ...base,
          httpStatus: 200,
          errorCode: undefined,
          durationMs: result.latencyMs,
          usage: result.usage,
          costUsd:
            result.usage === undefined ? undefined : registry.costUsd(base.model, result.usage),
        });
        return result;
      } catch (error) {
        metrics.providerRequest({
          ...base,
          httpStatus: error instanceof ProviderError ? error.httpStatus : undefined,
          errorCode: error instanceof ProviderError ? error.code : "INTERNAL",
          durationMs: performance.now() - started,
          usage: undefined,
          costUsd: undefined,
        });
        throw error;
      }
    },
  };
}

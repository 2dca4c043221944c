// generateText (or streamText) with a tool: the model calls it, the SDK runs `execute`, then a follow-up turn answers.
// Usage: node tool_call.mjs BRIDGE_URL [stream] [no-store] [summary]
//   stream: streamText instead of generateText; no-store: providerOptions.openai.store = false, so that
//   earlier output items go back in full instead of as `item_reference`s to OpenAI's store;
//   summary: model "gpt-5" with providerOptions.openai.reasoningSummary = "auto" (the SDK shows reasoning text).
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, stepCountIs, streamText, tool } from "ai";
import { z } from "zod";

const openai = createOpenAI({ baseURL: process.argv[2] + "/v1", apiKey: "x" });
const executed = [];
const flags = process.argv.slice(3);
const streaming = flags.includes("stream");
const errors = [];
const settings = {
  // The SDK sends reasoning settings only for model ids it knows as reasoning models.
  model: openai.responses(flags.includes("summary") ? "gpt-5" : "vercel-model"),
  prompt: "Weather in Paris?",
  maxRetries: 0,
  tools: {
    get_weather: tool({
      description: "Current weather in a city",
      inputSchema: z.object({ city: z.string() }),
      execute: async ({ city }) => {
        executed.push(city);
        return { city, forecast: "sunny", celsius: 21 };
      },
    }),
  },
  stopWhen: stepCountIs(2),
  providerOptions: {
    openai: {
      ...(flags.includes("no-store") && { store: false }),
      ...(flags.includes("summary") && { reasoningSummary: "auto" }),
    },
  },
};
let result;
const parts = [];
if (streaming) {
  result = streamText({ ...settings, onError: ({ error }) => errors.push(String(error)) });
  for await (const part of result.fullStream) parts.push(part.type);
  result = { text: await result.text, steps: await result.steps, reasoningText: await result.reasoningText };
} else {
  result = await generateText(settings);
}
console.log(JSON.stringify({
  text: result.text,
  reasoningText: result.reasoningText,
  executed,
  errors,
  parts,
  steps: result.steps.map((step) => ({
    finishReason: step.finishReason,
    toolCalls: step.toolCalls.map((c) => ({ toolCallId: c.toolCallId, toolName: c.toolName, input: c.input })),
    toolResults: step.toolResults.map((r) => ({ toolCallId: r.toolCallId, output: r.output })),
    text: step.text,
  })),
}));

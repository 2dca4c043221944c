// streamText through the Responses API: collects textStream. Usage: node stream_text.mjs BRIDGE_URL
import { createOpenAI } from "@ai-sdk/openai";
import { streamText } from "ai";

const openai = createOpenAI({ baseURL: process.argv[2] + "/v1", apiKey: "x" });
const errors = [];
const result = streamText({
  model: openai.responses("vercel-model"),
  prompt: "Tell a story.",
  maxRetries: 0,
  onError: ({ error }) => errors.push(String(error)),
});
const deltas = [];
for await (const delta of result.textStream) deltas.push(delta);
console.log(JSON.stringify({
  deltas,
  text: await result.text,
  finishReason: await result.finishReason,
  usage: await result.usage,
  errors,
}));

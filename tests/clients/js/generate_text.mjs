// generateText through the Responses API (no `stream` key is sent). Usage: node generate_text.mjs BRIDGE_URL
import { createOpenAI } from "@ai-sdk/openai";
import { generateText } from "ai";

const openai = createOpenAI({ baseURL: process.argv[2] + "/v1", apiKey: "x" });
const result = await generateText({
  model: openai.responses("vercel-model"),
  system: "Be brief.",
  prompt: "Say hello.",
  maxRetries: 0,
});
console.log(JSON.stringify({
  text: result.text,
  finishReason: result.finishReason,
  usage: result.usage,
  responseId: result.response.id,
  modelId: result.response.modelId,
}));

// generateObject with a zod schema (text.format json_schema). Usage: node generate_object.mjs BRIDGE_URL
import { createOpenAI } from "@ai-sdk/openai";
import { generateObject } from "ai";
import { z } from "zod";

const openai = createOpenAI({ baseURL: process.argv[2] + "/v1", apiKey: "x" });
const result = await generateObject({
  model: openai.responses("vercel-model"),
  schemaName: "forecast",
  schemaDescription: "A weather forecast",
  schema: z.object({ city: z.string(), celsius: z.number(), rain: z.boolean() }),
  prompt: "Forecast for Oslo.",
  maxRetries: 0,
});
console.log(JSON.stringify({ object: result.object, finishReason: result.finishReason }));

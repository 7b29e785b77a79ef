// Result ordering: the article's `analyze_documents`. gather answers in input order whatever
// order the calls finish in, so results zip back onto their inputs.
//
// Runs offline on Volley's built-in mock provider (scripted so that later documents finish
// first), or on OpenAI when OPENAI_API_KEY is set. Checks its own output, so the tests run it.

import assert from 'node:assert/strict';
import { Volley, chat } from 'volley';

const live = Boolean(process.env.OPENAI_API_KEY);
const v = new Volley({ defaultProvider: live ? 'openai' : 'mock', defaultModel: 'gpt-4o-mini' });

const docs = [
  'Quarterly revenue grew 12% on strong cloud demand.',
  'The new privacy law takes effect in January.',
  'Our team shipped the search redesign two weeks early.',
  'Customer churn rose slightly in the enterprise segment.',
];

try {
  const analyses = await v.gather(
    docs.map((doc, i) =>
      chat(`Analyze this document: ${doc}`, live ? {} : { mock: { latency_ms: (docs.length - i) * 100 } }),
    ),
  );
  const report = docs.map((doc, i) => ({ document: doc, analysis: analyses[i].text }));
  for (const { document, analysis } of report) console.log(`${document}\n  → ${analysis.slice(0, 100)}\n`);

  assert.equal(report.length, docs.length);
  if (!live) {
    // The mock echoes the prompt: each analysis is about its own document.
    report.forEach(({ document, analysis }) => assert.equal(analysis, `Mock reply to: Analyze this document: ${document}`));
  }
} finally {
  await v.close();
}

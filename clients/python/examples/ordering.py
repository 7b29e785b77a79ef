"""Result ordering (the article's fifth example, on Volley).

Before: build coroutines over documents, ``asyncio.gather`` them, and zip the analyses back
onto the documents, trusting gather's ordering. After: the same guarantee from the sidecar
(``gather`` answers in input order whatever finishes first), plus a ``key`` on each item that
comes back on its outcome, so nothing depends on position alone.

Runs offline on Volley's built-in ``mock`` provider, where the first documents are the slowest,
so they finish last. With ``OPENAI_API_KEY`` set it calls OpenAI's ``gpt-4o-mini``. It checks
its own output.

    python examples/ordering.py
"""

import asyncio
import os
from typing import Dict, List

import volley

ONLINE = bool(os.environ.get("OPENAI_API_KEY"))


def offline(**script: object) -> object:
    """How the mock provider should behave for this item; nothing is sent online."""
    return None if ONLINE else script


async def analyze_documents(v: volley.Volley, docs: Dict[str, str]) -> List[dict]:
    """Analyze multiple documents with ordered results."""
    items = [
        volley.chat(f"Analyze this document: {text}", key=doc_id, max_tokens=100,
                    mock=offline(latency_ms=400 - 80 * i))  # the first document is the slowest
        for i, (doc_id, text) in enumerate(docs.items())
    ]
    analyses = await v.gather(items)
    # Input order is guaranteed, and each outcome also carries its item's key.
    assert [o.key for o in analyses.outcomes] == list(docs)
    return [{"document": doc_id, "analysis": a.text} for doc_id, a in zip(docs, analyses)]


async def main() -> None:
    docs = {
        "q3-report": "Revenue grew 12% while costs stayed flat.",
        "incident-42": "The outage lasted 14 minutes; root cause was an expired certificate.",
        "rfc-7": "We propose replacing the cron jobs with a queue.",
        "memo": "The office will be closed on Friday.",
    }
    async with volley.Volley(default_provider="openai" if ONLINE else "mock", model="gpt-4o-mini") as v:
        report = await analyze_documents(v, docs)

    for row in report:
        print(f"{row['document']}: {row['analysis'][:80]}")

    assert [row["document"] for row in report] == list(docs)
    if not ONLINE:
        for row in report:
            assert row["analysis"] == f"Mock reply to: Analyze this document: {docs[row['document']]}"


if __name__ == "__main__":
    asyncio.run(main())

"""Framing: multi-byte UTF-8 across read boundaries, very long lines both ways."""

from __future__ import annotations

import volley
from conftest import make_volley, mock, run

# 1, 2, 3 and 4-byte characters: whatever the offset, some character straddles every 64 KiB
# boundary of the pipe and every 1 MiB read of the client.
PIECE = "a\u00e9\u6f22\u5b57\U0001f600\u3053\u3093\u306b\u3061\u306f\U0001f30d-"


def test_multibyte_text_straddling_read_boundaries(binary: str) -> None:
    async def body() -> None:
        async with make_volley(binary) as v:
            replies = [("x" * shift) + PIECE * (70_000 + 3_000 * shift) for shift in range(4)]
            assert all(len(r.encode()) > 2 * 1024 * 1024 for r in replies)
            items = [mock(f"p{i}", reply=reply) for i, reply in enumerate(replies)]
            results = await v.gather(items)
            for result, reply in zip(results, replies):
                assert result.text == reply
            # The same through item notifications.
            seen = {}
            async for outcome in v.as_completed(items):
                seen[outcome.index] = outcome.result().text
                assert outcome.provider == "mock"  # every outcome names the provider that ran it
            assert seen == dict(enumerate(replies))
            # And in a prompt: the mock echoes the first 200 characters of the last user message.
            echo = await v.call(mock(PIECE * 50_000))
            assert echo.text == "Mock reply to: " + (PIECE * 50_000)[:200]

    run(body())


def test_ten_megabyte_prompt(binary: str) -> None:
    async def body() -> None:
        async with make_volley(binary) as v:
            prompt = ("The quick brown fox \u00e9\u6f22 " * 400_000)[: 10 * 1024 * 1024]
            assert len(prompt.encode()) > 10_000_000
            short = await v.call(mock(prompt, reply="short answer"))
            assert short.text == "short answer"
            assert short.usage.input_tokens >= len(prompt) // 4
            # Without `reply` the mock echoes the start of the prompt.
            echoed = await v.gather([mock(prompt), mock("small")])
            assert echoed[0].text == "Mock reply to: " + prompt[:200]
            assert echoed[1].text == "Mock reply to: small"
            # A 10 MB reply is one 10 MB line from the sidecar, in a gather and as an item.
            huge = await v.gather([mock("big", reply=prompt), mock("small")])
            assert huge[0].text == prompt and huge[1].text == "Mock reply to: small"
            async for outcome in v.as_completed([mock("big", reply=prompt)]):
                assert outcome.result().text == prompt

    run(body(), timeout=120)


def test_lines_past_the_sidecars_16_mib_default_are_accepted(binary: str) -> None:
    async def body() -> None:
        async with make_volley(binary) as v:
            assert v.server_info["limits"]["max_line_bytes"] >= 1 << 30
            items = [mock("z" * 1_000_000 + str(i), reply=f"r{i}") for i in range(20)]  # a 20 MB line
            results = await v.gather(items)
            assert [r.text for r in results] == [f"r{i}" for i in range(20)]

    run(body(), timeout=120)


def test_line_longer_than_the_sidecar_accepts_is_refused_not_hung(binary: str) -> None:
    async def body() -> None:
        async with make_volley(binary, extra_args=["--max-line-bytes", "1000000"]) as v:
            try:
                await v.call(mock("y" * 2_000_000))
            except volley.ProtocolError as error:
                assert error.code == -32010
                assert error.data["max_line_bytes"] == 1_000_000
            else:
                raise AssertionError("an over-long line was accepted")
            assert (await v.call(mock("fits"))).text == "Mock reply to: fits"

    run(body())


def test_line_too_long_reply_from_the_sidecar_reaches_the_right_request(binary: str) -> None:
    async def body() -> None:
        async with make_volley(binary, extra_args=["--max-line-bytes", "2000"]) as v:
            # Bypass the client's own check: the sidecar answers -32010 with id null, and the
            # client finds the request by the byte count it reports.
            assert v._connection is not None
            v._connection.max_line_bytes = None
            try:
                await v.call(mock("y" * 3000))
            except volley.ProtocolError as error:
                assert error.code == -32010 and error.data["max_line_bytes"] == 2000
            else:
                raise AssertionError("an over-long line was accepted")
            assert (await v.call(mock("fits"))).text == "Mock reply to: fits"

    run(body())

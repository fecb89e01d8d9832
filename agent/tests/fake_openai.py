"""A local HTTP server that speaks the OpenAI streaming protocols, for the provider tests.

Real HTTP on 127.0.0.1 (ephemeral port, one thread per request). Each incoming request takes the
next step of a script: a list of SSE events (Responses API or ``chat.completion.chunk``), an
HTTP error with an OpenAI error body, a stall longer than the client timeout, or a stream cut
off mid-body. Every request is recorded (path, headers, JSON body) for assertions.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Step = dict[str, Any] | Callable[[dict[str, Any]], dict[str, Any]]


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeOpenAI:
    steps: list[Step] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def next_step(self, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            step = self.steps.pop(0) if self.steps else {"status": 500, "message": "script exhausted"}
        return step(body) if callable(step) else step


def serve(fake: FakeOpenAI) -> FakeOpenAI:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            return None

        def do_GET(self) -> None:
            fake.requests.append(Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, {}))
            if self.path.endswith("/models"):
                body = {"object": "list", "data": [{"id": "primary", "object": "model", "created": 0, "owned_by": "t"}]}
                self._json(200, body)
            else:
                self._json(404, {"error": {"message": "no route", "type": "invalid_request_error"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            fake.requests.append(Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            step = fake.next_step(body)
            if "sleep" in step:
                time.sleep(step["sleep"])
                return
            if "status" in step:
                error_type = {429: "rate_limit_error", 500: "server_error", 404: "invalid_request_error"}
                payload = {"error": {"message": step["message"], "type": error_type.get(step["status"], "error"),
                                     "param": None, "code": step.get("code")}}  # fmt: skip
                self._json(step["status"], payload)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for event in step["events"]:
                if event == "[DONE]":
                    frame = "data: [DONE]\n\n"
                elif "type" in event and not event.get("object"):
                    frame = f"event: {event['type']}\ndata: {json.dumps(event)}\n\n"
                else:
                    frame = f"data: {json.dumps(event)}\n\n"
                self._chunk(frame.encode())
                time.sleep(step.get("delay", 0))
            if step.get("cut"):
                self.wfile.flush()
                self.connection.shutdown(2)
                return
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        def _json(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    fake.server = server
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return fake


# --- Responses API event builders (shapes as the API sends them) --------------------------------------


def _response(status: str, output: list[Any], usage: dict[str, Any] | None = None, model: str = "primary") -> dict:
    return {
        "id": "resp_1", "object": "response", "created_at": 1700000000, "status": status, "model": model,
        "output": output, "parallel_tool_calls": True, "tool_choice": "auto", "tools": [], "error": None,
        "incomplete_details": None, "instructions": None, "metadata": {}, "temperature": 1.0, "top_p": 1.0,
        "usage": usage,
    }  # fmt: skip


def responses_text(chunks: list[str], *, usage: tuple[int, int] = (50, 10)) -> list[dict]:
    seq = iter(range(1000))
    text = "".join(chunks)
    message = {"id": "msg_1", "type": "message", "status": "completed", "role": "assistant",
               "content": [{"type": "output_text", "text": text, "annotations": []}]}  # fmt: skip
    events: list[dict] = [
        {"type": "response.created", "sequence_number": next(seq), "response": _response("in_progress", [])},
        {"type": "response.output_item.added", "sequence_number": next(seq), "output_index": 0,
         "item": {**message, "status": "in_progress", "content": []}},
        {"type": "response.content_part.added", "sequence_number": next(seq), "item_id": "msg_1", "output_index": 0,
         "content_index": 0, "part": {"type": "output_text", "text": "", "annotations": []}},
    ]  # fmt: skip
    for chunk in chunks:
        events.append(
            {"type": "response.output_text.delta", "sequence_number": next(seq), "item_id": "msg_1", "output_index": 0,
             "content_index": 0, "delta": chunk, "logprobs": []}
        )  # fmt: skip
    events += [
        {"type": "response.output_text.done", "sequence_number": next(seq), "item_id": "msg_1", "output_index": 0,
         "content_index": 0, "text": text, "logprobs": []},
        {"type": "response.output_item.done", "sequence_number": next(seq), "output_index": 0, "item": message},
        {"type": "response.completed", "sequence_number": next(seq),
         "response": _response("completed", [message], _usage(*usage))},
    ]  # fmt: skip
    return events


def _usage(prompt: int, completion: int) -> dict[str, Any]:
    return {"input_tokens": prompt, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": completion,
            "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": prompt + completion}  # fmt: skip


def responses_calls(calls: list[tuple[str, str, list[str]]], *, usage: tuple[int, int] = (40, 8)) -> list[dict]:
    """Function calls ``(call_id, name, argument pieces)``, each piece its own arguments delta."""
    seq = iter(range(1000))
    events: list[dict] = [
        {"type": "response.created", "sequence_number": next(seq), "response": _response("in_progress", [])}
    ]
    items = []
    for index, (call_id, name, pieces) in enumerate(calls):
        item_id = f"fc_{index}"
        item = {"id": item_id, "type": "function_call", "status": "in_progress", "call_id": call_id, "name": name,
                "arguments": ""}  # fmt: skip
        events.append(
            {"type": "response.output_item.added", "sequence_number": next(seq), "output_index": index, "item": item}
        )
        for piece in pieces:
            events.append(
                {"type": "response.function_call_arguments.delta", "sequence_number": next(seq), "item_id": item_id,
                 "output_index": index, "delta": piece}
            )  # fmt: skip
        arguments = "".join(pieces)
        events.append(
            {"type": "response.function_call_arguments.done", "sequence_number": next(seq), "item_id": item_id,
             "output_index": index, "arguments": arguments}
        )  # fmt: skip
        done = {**item, "status": "completed", "arguments": arguments}
        items.append(done)
        events.append(
            {"type": "response.output_item.done", "sequence_number": next(seq), "output_index": index, "item": done}
        )
    events.append(
        {
            "type": "response.completed",
            "sequence_number": next(seq),
            "response": _response("completed", items, _usage(*usage)),
        }
    )
    return events


# --- Chat Completions chunk builders -----------------------------------------------------------------


def _chunk(delta: dict[str, Any], finish: str | None = None, model: str = "primary") -> dict[str, Any]:
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1700000000, "model": model,
            "system_fingerprint": "fp_test", "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                                           "finish_reason": finish}]}  # fmt: skip


def _usage_chunk(prompt: int, completion: int) -> dict[str, Any]:
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1700000000, "model": "primary",
            "choices": [], "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                                     "total_tokens": prompt + completion}}  # fmt: skip


def chat_text(chunks: list[str], *, usage: tuple[int, int] = (60, 12)) -> list[Any]:
    events: list[Any] = [_chunk({"role": "assistant", "content": ""})]
    events += [_chunk({"content": c}) for c in chunks]
    events += [_chunk({}, "stop"), _usage_chunk(*usage), "[DONE]"]
    return events


def chat_calls(calls: list[tuple[str, str, list[str]]], *, usage: tuple[int, int] = (45, 9)) -> list[Any]:
    """Tool calls whose id and name come in the first chunk and arguments in later ones, interleaved."""
    events: list[Any] = [_chunk({"role": "assistant", "content": None})]
    for index, (call_id, name, _pieces) in enumerate(calls):
        events.append(_chunk({"tool_calls": [{"index": index, "id": call_id, "type": "function",
                                              "function": {"name": name, "arguments": ""}}]}))  # fmt: skip
    longest = max(len(p) for _, _, p in calls)
    for position in range(longest):
        for index, (_, _, pieces) in enumerate(calls):
            if position < len(pieces):
                events.append(_chunk({"tool_calls": [{"index": index, "function": {"arguments": pieces[position]}}]}))
    events += [_chunk({}, "tool_calls"), _usage_chunk(*usage), "[DONE]"]
    return events

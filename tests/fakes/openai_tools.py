"""Tool rounds and hosted tools of a response: planning, in-progress items, annotated answers."""

from __future__ import annotations

import re
from typing import Any

from tests.fakes.openai_files import (
    add_container_file,
    check_file_ids,
    file_ids_in_parts,
    file_ids_in_tools,
)
from tests.fakes.openai_shapes import JsonDict, new_id
from tests.fakes.openai_store import ResponseRec, Store, TurnPlan

HOSTED_TOOLS = ("code_interpreter", "file_search", "web_search")
_ITEM_PREFIX = {"code_interpreter": "ci", "file_search": "fs", "web_search": "ws"}
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")


def hosted_tools(plan: TurnPlan) -> list[str]:
    """The hosted tools a turn shows, in order: activity, then file search, code interpreter."""
    names = [name for name in plan.activity if name in HOSTED_TOOLS]
    if plan.citations:
        names.append("file_search")
    if plan.generated:
        names.append("code_interpreter")
    return list(dict.fromkeys(names))


def citation_points(text: str, count: int) -> list[int]:
    """Where `count` citations go: after successive sentences, then at the end of the text."""
    ends = [m.end() for m in _SENTENCE_END.finditer(text)]
    return [ends[i] if i < len(ends) else len(text) for i in range(count)]


def sandbox_code(plan: TurnPlan) -> str:
    lines = ["# write the requested files"]
    lines += [f"save(data[{i}], '/mnt/data/{f['filename']}')" for i, f in enumerate(plan.generated)]
    return "\n".join(lines)


def response_file_ids(items: list[JsonDict], tools: Any) -> list[str]:
    return [
        file_id
        for item in items
        if item.get("type") == "message"
        for file_id in file_ids_in_parts(item.get("content"))
    ] + file_ids_in_tools(tools)


def _answered_source(store: Store, items: list[JsonDict]) -> ResponseRec | None:
    answered = {i.get("call_id") for i in items if i.get("type") == "function_call_output"}
    for rec in store.responses.values():
        if answered and any(
            o.get("type") == "function_call" and o.get("call_id") in answered for o in rec.output
        ):
            return rec
    return None


def plan_response(
    store: Store, body: JsonDict, items: list[JsonDict]
) -> tuple[list[JsonDict], TurnPlan, list[str]]:
    """This round's calls, the turn's plan and the file ids its input references."""
    tools = body.get("tools")
    check_file_ids(store, response_file_ids(items, []), "input")
    check_file_ids(store, file_ids_in_tools(tools), "tools")
    source = _answered_source(store, items)
    forever = store.forever_calls()
    if forever is not None:
        rounds = [forever]
    elif source is not None and source.plan.later_rounds:
        rounds, source.plan.later_rounds = source.plan.later_rounds, []
    else:
        rounds = store.take_rounds()
    plan = store.take_plan(rounds, answers_now=not rounds)
    for name in hosted_tools(plan):
        plan.hosted_ids[name] = new_id(_ITEM_PREFIX[name])
    if "code_interpreter" in plan.hosted_ids:
        plan.container_id = _explicit_container(tools) or new_id("cntr")
        store.containers.add(plan.container_id)
    return (rounds[0] if rounds else []), plan, response_file_ids(items, tools)


def _explicit_container(tools: Any) -> str | None:
    for tool in tools if isinstance(tools, list) else []:
        if isinstance(tool, dict) and isinstance(tool.get("container"), str):
            return str(tool["container"])
    return None


def hosted_items(rec: ResponseRec, query: str, *, done: bool) -> list[JsonDict]:
    """The turn's hosted tool call items, in progress or completed."""
    plan, include = rec.plan, rec.request.get("include") or []
    items: list[JsonDict] = []
    for name, item_id in plan.hosted_ids.items():
        if name == "code_interpreter":
            logs = "\n".join(f"saved /mnt/data/{f['filename']}" for f in plan.generated)
            show = done and "code_interpreter_call.outputs" in include
            item: JsonDict = {
                "type": "code_interpreter_call",
                "id": item_id,
                "container_id": plan.container_id,
                "code": sandbox_code(plan),
                "outputs": [{"type": "logs", "logs": logs or "done"}] if show else None,
                "status": "completed" if done else "interpreting",
            }
        elif name == "file_search":
            show = done and "file_search_call.results" in include
            results = [
                {"file_id": c["file_id"], "filename": c["filename"], "score": 0.9, "text": query}
                for c in plan.citations
            ]
            item = {
                "type": "file_search_call",
                "id": item_id,
                "queries": [query] if query else [],
                "status": "completed" if done else "searching",
                "results": results if show else None,
            }
        else:
            item = {
                "type": "web_search_call",
                "id": item_id,
                "status": "completed" if done else "in_progress",
                "action": {"type": "search", "query": query},
            }
        items.append(item)
    return items


def annotate_answer(store: Store, plan: TurnPlan, text: str) -> tuple[str, list[JsonDict]]:
    """The answer with links to generated files appended, and its annotations."""
    annotations: list[JsonDict] = [
        {
            "type": "file_citation",
            "file_id": citation["file_id"],
            "filename": citation["filename"],
            "index": index,
        }
        for citation, index in zip(
            plan.citations, citation_points(text, len(plan.citations)), strict=True
        )
    ]
    for number, generated in enumerate(plan.generated):
        name, container_id = str(generated["filename"]), str(plan.container_id)
        cfile = add_container_file(store, container_id, name, bytes(generated["content"]))
        text += "\n\n" if number == 0 else "\n"
        link = f"[{name}](sandbox:/mnt/data/{name})"
        annotations.append(
            {
                "type": "container_file_citation",
                "container_id": container_id,
                "file_id": cfile.id,
                "filename": name,
                "start_index": len(text),
                "end_index": len(text) + len(link),
            }
        )
        text += link
    return text, annotations

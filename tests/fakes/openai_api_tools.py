"""Thread-safe knobs of FakeOpenAI for tools and files (rounds, generated files, citations)."""

from __future__ import annotations

from tests.fakes.openai_files import register_file
from tests.fakes.openai_shapes import JsonDict
from tests.fakes.openai_store import Store
from tests.fakes.openai_tools import HOSTED_TOOLS


class ToolKnobsMixin:
    """Each knob is read by the next created response/run, under the store's lock."""

    _store: Store

    @property
    def function_call_rounds_next(self) -> list[list[JsonDict]]:
        """Rounds of calls [[{name, arguments, call_id?}, …], …]: round 1 by the next created
        response/run, each later round by the follow-up that answers the previous one."""
        with self._store.lock:
            return [list(r) for r in self._store.knobs.function_call_rounds_next]

    @function_call_rounds_next.setter
    def function_call_rounds_next(self, value: list[list[JsonDict]]) -> None:
        with self._store.lock:
            self._store.knobs.function_call_rounds_next = [list(r) for r in value]

    @property
    def function_calls_forever(self) -> list[JsonDict] | None:
        """While set, every response/run round asks for these calls (fresh call ids) again."""
        with self._store.lock:
            forever = self._store.knobs.function_calls_forever
            return None if forever is None else list(forever)

    @function_calls_forever.setter
    def function_calls_forever(self, value: list[JsonDict] | None) -> None:
        with self._store.lock:
            self._store.knobs.function_calls_forever = None if value is None else list(value)

    @property
    def generated_files_next(self) -> list[JsonDict]:
        """Files [{filename, content: bytes}] the code interpreter makes in the next answer."""
        with self._store.lock:
            return list(self._store.knobs.generated_files_next)

    @generated_files_next.setter
    def generated_files_next(self, value: list[JsonDict]) -> None:
        for generated in value:
            if not isinstance(generated.get("filename"), str) or not isinstance(
                generated.get("content"), bytes
            ):
                raise ValueError("generated files need a str 'filename' and bytes 'content'")
        with self._store.lock:
            self._store.knobs.generated_files_next = [dict(g) for g in value]

    @property
    def citations_next(self) -> list[JsonDict]:
        """File-search citations [{filename, file_id}] of the next answer (ids filled in)."""
        with self._store.lock:
            return [dict(c) for c in self._store.knobs.citations_next]

    @citations_next.setter
    def citations_next(self, value: list[JsonDict]) -> None:
        with self._store.lock:
            citations = []
            for citation in value:
                filename = str(citation["filename"])
                file_id = citation.get("file_id")
                if not file_id or file_id not in self._store.files:
                    file_id = register_file(self._store, filename, b"", "assistants", file_id).id
                citations.append({**citation, "filename": filename, "file_id": file_id})
            self._store.knobs.citations_next = citations

    @property
    def activity_next(self) -> list[str]:
        """Hosted tools (code_interpreter, file_search, web_search) the next turn shows working."""
        with self._store.lock:
            return list(self._store.knobs.activity_next)

    @activity_next.setter
    def activity_next(self, value: list[str]) -> None:
        unknown = [name for name in value if name not in HOSTED_TOOLS]
        if unknown:
            raise ValueError(f"unknown hosted tools {unknown}; expected some of {HOSTED_TOOLS}")
        with self._store.lock:
            self._store.knobs.activity_next = list(value)

    @property
    def max_file_bytes(self) -> int:
        """Largest upload POST /v1/files accepts (default 512 MB, as the real API)."""
        with self._store.lock:
            return self._store.knobs.max_file_bytes

    @max_file_bytes.setter
    def max_file_bytes(self, value: int) -> None:
        with self._store.lock:
            self._store.knobs.max_file_bytes = value

    # files -----------------------------------------------------------------------------
    @property
    def files(self) -> list[JsonDict]:
        """Files in the Files API: [{id, filename, purpose, content}], oldest first."""
        with self._store.lock:
            return [
                {"id": f.id, "filename": f.filename, "purpose": f.purpose, "content": f.content}
                for f in self._store.files.values()
            ]

    @property
    def container_files(self) -> list[JsonDict]:
        """Files code interpreter made: [{id, container_id, filename, content}]."""
        with self._store.lock:
            return [
                {
                    "id": f.id,
                    "container_id": f.container_id,
                    "filename": f.filename,
                    "content": f.content,
                }
                for f in self._store.container_files.values()
            ]

    def add_file(self, filename: str, content: bytes, purpose: str = "assistants") -> str:
        """Put a file in the Files API as if uploaded; returns its id."""
        with self._store.lock:
            return register_file(self._store, filename, content, purpose).id

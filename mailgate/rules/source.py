"""Shell, rules: one rules file's YAML read with the line of every key, and its duplicate keys (YAML keeps the last)."""

from __future__ import annotations

import yaml

Path = tuple[str | int, ...]  # keys and list indexes from the document's root
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml, bundled with PyYAML's wheels: ~10x faster


class Source:
    def __init__(self, display: str) -> None:
        self.display = display  # the file as errors name it
        self.lines: dict[Path, int] = {}
        self.duplicates: list[tuple[Path, int, str]] = []  # (path, line, message)

    def read(self, text: str) -> tuple[object, str | None]:
        """(the document, None), or (None, `file:line: invalid YAML: ...`)."""
        try:
            return self._read(text), None
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            context = ""
            if exc.context and exc.context_mark:
                context = f" ({exc.context} on line {exc.context_mark.line + 1})"
            return None, f"{self.display}:{mark.line + 1 if mark else 1}: invalid YAML: {exc.problem}{context}"
        except yaml.YAMLError as exc:
            return None, f"{self.display}:1: invalid YAML: {' '.join(str(exc).split())}"

    def line_of(self, path: Path) -> int:
        """The line of `path`, or of its nearest parent that has one."""
        probe = path
        while probe and probe not in self.lines:
            probe = probe[:-1]
        return self.lines.get(probe, 1)

    def _read(self, text: str) -> object:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            self.lines[()] = node.start_mark.line + 1
            self._walk(node, ())
            return loader.construct_document(node)
        finally:
            loader.dispose()

    def _walk(self, node: yaml.Node, path: Path) -> None:
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key_node, value_node in node.value:
                key = str(key_node.value)
                line = key_node.start_mark.line + 1
                if key in seen:
                    self.duplicates.append((path + (key,), line, f"duplicate key {key!r} (first on line {seen[key]})"))
                seen[key] = line
                self.lines.setdefault(path + (key,), line)
                self._walk(value_node, path + (key,))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self.lines[path + (i,)] = item.start_mark.line + 1
                self._walk(item, path + (i,))

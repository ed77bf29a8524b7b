"""The knowledge base: rule files and the source catalogue, loaded and validated.

A rule file is YAML data, never code. It holds one rule (a mapping with ``id``) or several
(``rules: [...]``) on one concern. Every problem found is reported with ``file:line``; loading
collects all problems before raising :class:`RuleErrors`.
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

from haircare_expert import yamlio
from haircare_expert.errors import HaircareError, Location, NotFoundError, RuleError, RuleErrors
from haircare_expert.knowledge import ruletext
from haircare_expert.knowledge.conditions import (
    Pattern,
    Var,
)
from haircare_expert.knowledge.rule import (  # noqa: F401  (re-exported: the parts of a rule, imported from here)
    RULE_KEYS,
    RULES_ENV,
    SCHEDULE_DAYS,
    THEN_KEYS,
    Declaration,
    Rule,
    ScheduleEntry,
    Source,
    WashStep,
    _text,
)
from haircare_expert.knowledge.ruleparse import _parse_rule
from haircare_expert.knowledge.vocabulary import Vocabulary

T = TypeVar("T")


class Rulebook:
    """The validated rules, the source catalogue and the vocabulary they use."""

    def __init__(self, rules: list[Rule], sources: dict[str, Source], vocabulary: Vocabulary,
                 version: str, fingerprint: str, folders: list[str], overridden: list[str]):
        self.rules = rules
        self.by_id = {r.id: r for r in rules}
        self.sources = sources
        self.vocabulary = vocabulary
        self.version = version
        self.fingerprint = fingerprint
        self.folders = folders
        self.overridden = overridden

    def __len__(self) -> int:
        return len(self.rules)

    def get(self, rule_id: str) -> Rule:
        try:
            return self.by_id[rule_id]
        except KeyError:
            import difflib
            close = difflib.get_close_matches(rule_id, list(self.by_id), n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise NotFoundError(rule_id, f"no rule with this id{hint}") from None

    def summary(self) -> dict:
        """The ``knowledge_base`` block of a consultation: worked out once (it sorts and hashes
        every rule), each call given its own dicts and lists, so changing one consultation's
        block changes no other."""
        block = self.derived(_summary)
        info = dict(block)
        info["rule_hashes"] = dict(block["rule_hashes"])
        if "custom" in block:
            info["custom"] = {k: list(v) for k, v in block["custom"].items()}
        return info

    def derived(self, build: Callable[[Rulebook], T]) -> T:
        """``build(self)``, worked out once for this rulebook and kept with it: what later stages
        read about the rules for every client (the plan stage's facts about each rule).

        ``build`` must depend on nothing but the rulebook, which is not changed once loaded;
        another Rulebook object (a reload, an edited rule file) starts with nothing derived.
        Two threads asking at once may both build it: both results are equal and one is kept.
        Not pickled or copied (the rulebook cache holds the rules only).
        """
        memo = self.__dict__.get("_derived")
        if memo is None:
            memo = self.__dict__.setdefault("_derived", {})
        try:
            return memo[build]
        except KeyError:
            return memo.setdefault(build, build(self))

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_derived", None)
        return state

    # -- loading ---------------------------------------------------------------------------
    @classmethod
    def load(cls, extra: Iterable[str | Path] = (), vocabulary: Vocabulary | None = None,
             shipped: str | Path | None = None) -> Rulebook:
        """Load the shipped rules (or ``shipped``) plus each extra folder, in order.

        A rule in an extra folder with the id of an earlier rule replaces it.
        """
        vocabulary = vocabulary or Vocabulary.load()
        problems: list[RuleError] = []
        folders = _read_folders(Path(shipped) if shipped else None, extra, problems)
        sources, version = _catalogue(folders, problems)
        rules, overridden, fingerprint = _collect_rules(folders, vocabulary, sources, problems)
        ordered = sorted(rules.values(), key=lambda r: r.id)
        _check_variables_and_declares(ordered, vocabulary, problems)
        if not problems:
            _stratify(ordered, problems)
        if problems:
            raise RuleErrors(problems)
        return cls(ordered, sources, vocabulary, version, fingerprint,
                   [label for label, _ in folders], overridden)


def _summary(rulebook: Rulebook) -> dict:
    """The ``knowledge_base`` block (see :meth:`Rulebook.summary`)."""
    rules = rulebook.rules
    info = {"version": rulebook.version, "fingerprint": rulebook.fingerprint, "rules": len(rules),
            "rule_hashes": {r.id: r.content_hash for r in sorted(rules, key=lambda r: r.id)}}
    if rulebook.overridden or any(r.origin == "custom" for r in rules):
        info["custom"] = {"folders": rulebook.folders[1:], "overrides": sorted(rulebook.overridden),
                          "added": sorted(r.id for r in rules if r.origin == "custom")}
    return info


#: One rule folder read: its label (``rules`` for the shipped one) and its files (name, text).
Folder = tuple[str, list[tuple[str, str]]]


def _read_folders(base: Path | None, extra: Iterable[str | Path], problems: list) -> list[Folder]:
    """The shipped folder (or ``base``) and each extra folder, read; a missing extra folder is
    a NotFoundError."""
    folders = [_read_folder(base, "rules", problems)]
    for folder in extra:
        path = Path(folder)
        if not path.is_dir():
            raise NotFoundError(str(path), "rules folder does not exist")
        folders.append(_read_folder(path, str(path), problems))
    return folders


def _catalogue(folders: list[Folder], problems: list) -> tuple[dict, str]:
    """The source catalogue and knowledge-base version from the ``sources.yaml`` files (a later
    folder's entries added to the earlier ones); no catalogue at all is a RuleError."""
    catalogue = None
    for _label, files in folders:
        for name, text in files:
            if Path(name).name == "sources.yaml":
                data = _safe_load(text, name, problems)
                if data is not None:
                    catalogue = _parse_sources(data, name, problems, catalogue)
    if catalogue is None:
        raise RuleError("rules/sources.yaml", "the source catalogue is missing", code="sources")
    return catalogue


def _collect_rules(folders: list[Folder], vocabulary: Vocabulary, sources: dict,
                   problems: list) -> tuple[dict[str, Rule], list[str], str]:
    """Every rule of every folder by id (a later folder's rule replaces an earlier one with its
    id), the ids so replaced, and the fingerprint of every file read."""
    digest = hashlib.sha256()
    rules: dict[str, Rule] = {}
    overridden: list[str] = []
    for index, (label, files) in enumerate(folders):
        seen_here: dict[str, str] = {}
        for name, text in files:
            # the folder's position and the path inside it: not how the folder was spelled
            relative = _relative(name, label)
            digest.update(f"{index}:{relative}".encode() + b"\0" + text.encode() + b"\0")
            if Path(name).name == "sources.yaml":
                continue
            data = _safe_load(text, name, problems)
            if data is None:
                continue
            for raw in _rule_docs(data, name, problems):
                rule = _parse_rule(raw, name, vocabulary, sources, problems)
                if rule is None:
                    continue
                if rule.id in seen_here:
                    problems.append(RuleError(rule.at, f"duplicate rule id {rule.id!r} (also at {seen_here[rule.id]})",
                                              code="duplicate-id", rule=rule.id))
                    continue
                seen_here[rule.id] = rule.location
                if index > 0:
                    rule.origin = "override" if rule.id in rules else "custom"
                    if rule.id in rules:
                        overridden.append(rule.id)
                rules[rule.id] = rule
    return rules, overridden, "sha256:" + digest.hexdigest()


def _relative(name: str, label: str) -> str:
    """A file's path inside its rule folder (shipped files are already 'rules/...')."""
    if label == "rules" and name.startswith("rules/"):
        return name[len("rules/"):]
    try:
        return Path(name).relative_to(Path(label)).as_posix()
    except ValueError:
        return Path(name).name




def _read_folder(path: Path | None, label: str, problems) -> tuple[str, list[tuple[str, str]]]:
    """All YAML files under a folder, as (display name, text), in a stable order.

    Every ``*.yaml``/``*.yml`` file is loaded (any case of the suffix), in sub-folders too,
    following symbolic links; hidden files and folders (``.git/``) are not rules. Nothing is
    skipped without a word: a broken link, an unreadable folder or a rule file that is not a
    regular file (a FIFO) is a problem.
    """
    files: list[tuple[str, str]] = []
    if path is None:
        root = yamlio.package_files("rules")
        for name, ref in sorted(_walk(root, "")):
            files.append((f"rules/{name}", ref.read_text(encoding="utf-8")))
        return label, files
    for file in sorted(_rule_files(path, problems)):
        try:
            text = yamlio.read_text(file, RuleError)
        except RuleError as exc:
            problems.append(exc)
            continue
        except HaircareError as exc:      # not a regular file, or unreadable: a rule problem here
            problems.append(RuleError(exc.where, f"rule file {exc.what}"))
            continue
        files.append((str(file), text))
    return label, files


def _rule_files(folder: Path, problems: list, seen: set | None = None) -> list[Path]:
    """The rule files under ``folder`` (see :func:`_read_folder`); problems are appended."""
    seen = set() if seen is None else seen
    real = os.path.realpath(folder)
    if real in seen:            # a link back up the tree: its files are already listed
        return []
    seen.add(real)
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        problems.append(RuleError(str(folder), f"rules folder cannot be read ({exc.strerror or exc})"))
        return []
    found: list[Path] = []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = Path(entry.path)
        try:
            is_dir = entry.is_dir()             # follows links
            is_yaml = entry.name.lower().endswith((".yaml", ".yml"))
            if entry.is_symlink() and not path.exists():
                problems.append(RuleError(str(path), "broken symbolic link in a rules folder"))
            elif is_dir:
                found.extend(_rule_files(path, problems, seen))
            elif is_yaml:
                found.append(path)
        except OSError as exc:
            problems.append(RuleError(str(path), f"cannot be read ({exc.strerror or exc})"))
    return found


def _walk(ref, prefix):
    for child in ref.iterdir():
        name = f"{prefix}{child.name}"
        if child.is_dir():
            if child.name != "__pycache__":
                yield from _walk(child, name + "/")
        elif child.name.endswith((".yaml", ".yml")):
            yield name, child


def _safe_load(text, name, problems):
    try:
        return yamlio.loads(text, name, RuleError)
    except RuleError as exc:
        problems.append(exc)
        return None


def _parse_sources(data, where, problems, previous):
    if not isinstance(data, dict) or not isinstance(data.get("sources"), list):
        problems.append(RuleError(where, "the source catalogue needs a 'sources' list", code="sources"))
        return previous
    sources = dict(previous[0]) if previous else {}
    version = str(data.get("version", previous[1] if previous else "0"))
    for entry in data["sources"]:
        line = Location(where, getattr(entry, "line", 0))
        if not isinstance(entry, dict) or not _text(entry.get("id")) or not _text(entry.get("title")):
            problems.append(RuleError(line, "each source needs an id and a title (text)"))
            continue
        sections = entry.get("sections") or []
        if not isinstance(sections, list) or not all(_text(x) for x in sections):
            problems.append(RuleError(line, f"source {entry['id']}: sections must be a list of headings"))
            continue
        sources[entry["id"]] = Source(
            id=entry["id"], title=entry["title"], publisher=entry.get("publisher", ""),
            sections=tuple(entry.get("sections") or ()), file=entry.get("file", ""),
            url=entry.get("url", ""))
    return sources, version


def _rule_docs(data, where, problems):
    if isinstance(data, dict) and "rules" in data and "id" not in data:
        if not isinstance(data["rules"], list):
            problems.append(RuleError(Location(where, data.line_of("rules")), "'rules' must be a list of rules"))
            return []
        docs = data["rules"]
    else:
        docs = [data]
    good = []
    for doc in docs:
        if not isinstance(doc, dict):
            problems.append(RuleError(where, "a rule must be a mapping with id, title, kind, when, then, because, sources"))
        else:
            good.append(doc)
    return good


def _check_variables_and_declares(rules: list[Rule], vocab: Vocabulary, problems: list) -> None:
    """Variables must be bound by a positive pattern before a 'not' or 'then' uses them."""
    for rule in rules:
        in_text = _template_names(rule, problems)
        for variant in rule.variants():
            bound: set[str] = set()
            for cond in variant:
                if isinstance(cond, Pattern):
                    bound |= {t.value.name for t in cond.tests if t.op == "bind"}
                else:
                    for pat in cond.body:
                        for t in pat.tests:
                            if t.op == "bind" and t.value.name not in bound:
                                problems.append(RuleError(
                                    Location(rule.file, cond.line),
                                    f"rule {rule.id}: variable ?{t.value.name} inside 'not' must be bound by an earlier pattern",
                                    code="unbound-variable", rule=rule.id))
            used = {v.name for d in rule.declare for _, v in d.fields if isinstance(v, Var)}
            used |= in_text
            for name in sorted(used - bound):
                problems.append(RuleError(rule.at, f"rule {rule.id}: ?{name} is used in 'then' but not bound in every alternative of 'when'",
                                          code="unbound-variable", rule=rule.id))


def _template_names(rule: Rule, problems: list) -> set[str]:
    """The variables the advice text and steps use (the texts passed :func:`_check_text`)."""
    texts = [t for t in (rule.advise, *rule.steps) if "{" in t]
    if not texts:
        return set()
    from jinja2 import TemplateSyntaxError, nodes
    names: set[str] = set()
    for text in texts:
        try:
            # every name read, globals such as `cycler` included: only bound variables may appear
            names |= {n.name for n in ruletext.env().parse(text).find_all(nodes.Name) if n.ctx == "load"}
        except TemplateSyntaxError as exc:
            problems.append(RuleError(rule.at, f"rule {rule.id}: text {text[:40]!r}...: {exc.message}",
                                      code="load", rule=rule.id))
    return names


def _stratify(rules: list[Rule], problems: list) -> None:
    """Give each rule a stratum so a negation is tested only after all it negates can exist.

    stratum(r) >= stratum(p) for every producer p of a type r matches positively, and
    > stratum(p) for every producer of a type r negates. A cycle through a negation is an error.
    """
    producers: dict[str, list[Rule]] = {}
    for rule in rules:
        for t in rule.concludes():
            producers.setdefault(t, []).append(rule)
    strata = {r.id: 0 for r in rules}
    limit = len(rules) + 1
    changed = True
    while changed:
        changed = False
        for rule in rules:
            need = 0
            for t in rule.positive_types():
                for prod in producers.get(t, ()):
                    need = max(need, strata[prod.id])
            for t in rule.negated_types():
                for prod in producers.get(t, ()):
                    need = max(need, strata[prod.id] + 1)
            if need > strata[rule.id]:
                if need > limit:
                    problems.append(RuleError(rule.at, f"rule {rule.id}: its conditions depend on their own negation through a cycle of rules (cannot be ordered)",
                                              code="negation-cycle", rule=rule.id))
                    return
                strata[rule.id] = need
                changed = True
    for rule in rules:
        rule.stratum = strata[rule.id]

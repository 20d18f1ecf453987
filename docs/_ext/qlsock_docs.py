"""Sphinx support for qlsock's API reference.

* ``.. autointerface:: qlsock.interfaces.ILocalSocket`` documents a zope.interface
  contract: its docstring, its bases, then each attribute and method it declares
  (``Interface.namesAndDescriptions``) with its signature and docstring. Interfaces
  are ``py:interface`` objects, which ``:class:`` references find.
* Autodoc'ed classes get, where their own source has no docstring, the description
  of the same name from the interfaces they implement: the contract is the
  documentation. A signal reads ``Signal name(types).`` followed by that description.
* Google-style sections (``Args:``, ``Raises:``) in the docstrings of modules,
  classes and functions are rendered as fields (napoleon's parser). Attribute and data
  docstrings are left as written: napoleon would read ``#: Readiness bit: ...`` as
  "type: description".
* Enum members that Qt also exposes on the owning class (``QLocalSocket.PeerClosedError``)
  are documented once, on the enum, not again on each class.
* A reference to ``qlsock.<module>.<Name>`` (how annotations and bases spell them)
  resolves to where the API reference documents that object (``qlsock.<Name>``). A
  reference to a qlsock internal that the reference does not document is shown as
  plain text; a reference to anything else that does not exist still fails the build.
* Links from a page to repository files outside ``docs/`` (``../benchmarks/``) become
  plain text: the built site has no such pages.
"""

from __future__ import annotations

import enum
import importlib
import inspect
import sys
from collections.abc import Iterator
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.domains import ObjType
from sphinx.domains.python import PyClasslike, PythonDomain
from sphinx.environment import BuildEnvironment
from sphinx.ext.napoleon import Config as NapoleonConfig
from sphinx.ext.napoleon.docstring import GoogleDocstring
from sphinx.transforms import SphinxTransform
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles
from zope.interface import implementedBy
from zope.interface.interface import Attribute, InterfaceClass, Method

from qlsock.signals import Signal

#: The kinds of object whose docstrings may have Google-style sections.
_GOOGLE_STYLE = frozenset({"module", "class", "exception", "function", "method"})
_NAPOLEON = NapoleonConfig(napoleon_numpy_docstring=False)

#: What a signal's description in an interface looks like: ``ISignal(args): text``.
_SIGNAL_PREFIX = "ISignal("


# -- zope.interface contracts -------------------------------------------------------------


class PyInterface(PyClasslike):
    """``py:interface``: a class-like object whose signature reads ``interface Name``."""


def _import(dotted: str) -> Any:
    """The object at *dotted* (``package.module.Name.attr``)."""
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attr in parts[split:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


def _indented(text: str, indent: str = "   ") -> Iterator[str]:
    for line in _dedent(text).splitlines():
        yield f"{indent}{line}" if line else ""


def _dedent(text: str) -> str:
    """A docstring without its first line's and later lines' common indentation."""
    return inspect.cleandoc(text or "")


class AutoInterface(SphinxDirective):
    """``.. autointerface:: dotted.name``: document a zope.interface ``Interface``."""

    required_arguments = 1
    has_content = False

    def run(self) -> list[nodes.Node]:
        dotted = self.arguments[0]
        iface = _import(dotted)
        if not isinstance(iface, InterfaceClass):
            raise self.error(f"{dotted} is not a zope.interface Interface")
        module, name = iface.__module__, iface.__name__
        bases = [b for b in iface.__bases__ if b.__name__ != "Interface"]
        lines = [f".. py:interface:: {name}", f"   :module: {module}", ""]
        if bases:
            refs = ", ".join(f":class:`~{b.__module__}.{b.__name__}`" for b in bases)
            lines += [f"   Extends {refs}.", ""]
        lines += [*_indented(iface.getDoc()), ""]
        for member, description in iface.namesAndDescriptions(all=False):
            if isinstance(description, Method):
                signature = description.getSignatureString()
                lines += [f"   .. py:method:: {member}{signature}", ""]
            elif isinstance(description, Attribute):
                lines += [f"   .. py:attribute:: {member}", ""]
            else:
                continue
            lines += [*_indented(description.getDoc(), "      "), ""]
        content = StringList(lines, source=f"<autointerface {dotted}>")
        node = nodes.section()
        nested_parse_with_titles(self.state, content, node)
        self.env.note_dependency(importlib.import_module(module).__file__ or "")
        return node.children


# -- autodoc: docstrings from the contracts ----------------------------------------------


def _owner_and_member(name: str) -> tuple[Any, str] | None:
    owner_name, _, member = name.rpartition(".")
    try:
        owner = _import(owner_name)
    except (ImportError, AttributeError):
        return None
    return (owner, member) if isinstance(owner, type) else None


def _contract_doc(owner: type, member: str) -> str:
    """The description of *member* in the first interface *owner* implements that has one."""
    for iface in implementedBy(owner).flattened():
        description = iface.get(member)
        if description is not None and description.getDoc():
            return str(description.getDoc())
    return ""


def _sentence(text: str) -> str:
    """*text* with a capital first letter and a full stop."""
    text = text.strip()
    if not text:
        return text
    return text[0].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")


def _signal_lines(member: str, signal: Signal, owner: type | None,
                  own: list[str]) -> list[str]:
    """How a signal reads: its Qt signature, then what it means."""
    text = _contract_doc(owner, member) if owner is not None else ""
    if text.startswith(_SIGNAL_PREFIX) and "): " in text:
        args, _, text = text[len(_SIGNAL_PREFIX):].partition("): ")
    else:
        args = ", ".join(getattr(t, "__name__", str(t)) for t in signal.types)
    head = f"**Signal** ``{member}({args})``."
    return [f"{head} {_sentence(text)}" if text else head, *(["", *own] if own else [])]


def process_docstring(app: Sphinx, what: str, name: str, obj: Any, options: Any,
                      lines: list[str]) -> None:
    found = _owner_and_member(name)
    owner, member = found if found is not None else (None, "")
    if isinstance(obj, Signal):
        # Without a docstring of its own, autodoc shows the Signal class's.
        generic = _dedent(type(obj).__doc__ or "").splitlines()
        own = [] if lines[:len(generic)] == generic else list(lines)
        lines[:] = _signal_lines(member, obj, owner, own)
        return
    if not lines and owner is not None and what in ("method", "attribute", "property"):
        lines[:] = _dedent(_contract_doc(owner, member)).splitlines()
    if what in _GOOGLE_STYLE:
        lines[:] = GoogleDocstring(lines, _NAPOLEON, app, what, name, obj, options).lines()


def _class_being_documented(app: Sphinx) -> Any:
    """The class whose members autodoc is going through, or None if unknown."""
    document = getattr(app.env, "current_document", None)  # Sphinx 8.2 and later
    if document is not None:
        module, name = document.autodoc_module, document.autodoc_class
    else:
        module = app.env.temp_data.get("autodoc:module")
        name = app.env.temp_data.get("autodoc:class")
    return _safe_import(f"{module}.{name}") if module and name else None


def skip_member(app: Sphinx, what: str, name: str, obj: Any, skip: bool,
                options: Any) -> bool | None:
    """Enum types and members that a class re-exports (``QLocalSocket.PeerClosedError``,
    ``QLocalSocket.LocalSocketError``) are documented once, on the enum."""
    if what != "class":
        return None
    is_enum_type = isinstance(obj, type) and issubclass(obj, enum.Enum)
    if not (is_enum_type or isinstance(obj, enum.Enum)):
        return None
    owner = _class_being_documented(app)
    if isinstance(owner, type) and issubclass(owner, enum.Enum):
        return None  # the enum's own members
    return True


def process_bases(app: Sphinx, name: str, obj: Any, options: Any, bases: list[type]) -> None:
    """Show a private base (``_QtEnum``) as the public class it derives from."""
    for index, base in enumerate(bases):
        if base.__name__.startswith("_"):
            public = next((b for b in base.__mro__ if not b.__name__.startswith("_")), object)
            bases[index] = public


# -- references ------------------------------------------------------------------------------


def _safe_import(dotted: str) -> Any:
    try:
        return _import(dotted)
    except (ImportError, AttributeError):
        return None


def _named_object(target: str, module: str | None) -> tuple[bool, Any]:
    """``(found, object)``: the qlsock object *target* names, wherever it is defined."""
    if target.startswith("qlsock."):
        candidates = [target]
    else:
        # Relative to the page's module, else to any qlsock module (a docstring of
        # qlsock.iodevice.QIODevice, documented as qlsock.QIODevice, that names
        # ReadBuffer means qlsock.iodevice's ReadBuffer).
        first = [f"{module}.{target}"] if module and module.startswith("qlsock") else []
        candidates = first + [f"{name}.{target}" for name in sorted(sys.modules)
                              if name == "qlsock" or name.startswith("qlsock.")]
    for dotted in candidates:
        obj = _safe_import(dotted)
        if obj is not None:
            return True, obj
    return False, None


def missing_reference(app: Sphinx, env: BuildEnvironment, node: addnodes.pending_xref,
                      contnode: nodes.TextElement) -> nodes.Node | None:
    """Resolve a qlsock object by what it is, not by the name the reference used."""
    if node.get("refdomain") != "py":
        return None
    found, obj = _named_object(node["reftarget"], node.get("py:module"))
    if not found:
        return None  # not a qlsock object: the warning stands
    domain = env.get_domain("py")
    assert isinstance(domain, PythonDomain)
    documented: list[str] = []
    if inspect.isclass(obj) or inspect.isroutine(obj) or inspect.ismodule(obj):
        documented = sorted((name for name in domain.objects if _safe_import(name) is obj),
                            key=len)
    if not documented:
        return contnode  # a qlsock internal the reference does not document: plain text
    return domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"],
                               documented[0], node, contnode)


def process_signature(app: Sphinx, what: str, name: str, obj: Any, options: Any,
                      signature: str | None, return_annotation: str | None
                      ) -> tuple[str | None, str | None] | None:
    """A dataclass field's ``default_factory`` shows as ``<factory>``, which is not
    Python and makes Sphinx misread the whole signature: show ``...`` instead."""
    if signature and "<factory>" in signature:
        return signature.replace("<factory>", "..."), return_annotation
    return None


class RepositoryLinks(SphinxTransform):
    """Links to ``../something`` (repository files outside the docs) become text."""

    default_priority = 500

    def apply(self, **kwargs: Any) -> None:
        for node in list(self.document.findall(addnodes.pending_xref)):
            target = str(node.get("reftarget", ""))
            if node.get("reftype") == "myst" and target.startswith("../"):
                node.replace_self(node.children)


def setup(app: Sphinx) -> dict[str, Any]:
    PythonDomain.object_types["interface"] = ObjType("interface", "class", "obj")
    app.add_directive_to_domain("py", "interface", PyInterface)
    app.add_directive("autointerface", AutoInterface)
    app.connect("autodoc-process-docstring", process_docstring)
    app.connect("autodoc-skip-member", skip_member)
    app.connect("autodoc-process-bases", process_bases)
    app.connect("autodoc-process-signature", process_signature)
    app.connect("missing-reference", missing_reference)
    app.add_transform(RepositoryLinks)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}

"""``%openrouter help`` / ``usage`` / ``reset`` / ``history`` / ``key`` / ``config`` /
``dashboard``: this kernel's session (conversations, spend, key, settings)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError

from .._bundles import table_bundle, text_bundle, usage_bundle
from .._common import cell_error
from .._errors import OpenRouterCellError
from .._run import show_bundles

if TYPE_CHECKING:  # pragma: no cover
    from .._core import OpenRouterMagics


def help(m: OpenRouterMagics, words: list[str] | None = None) -> None:
    from .._help import CHEAT_SHEET

    show_bundles([text_bundle(CHEAT_SHEET)], rich=m._rich())


def dashboard(m: OpenRouterMagics, words: list[str]) -> Any:
    """The ipywidgets dashboard over the same tools (one line of text outside Jupyter)."""
    from ...widgets.dashboard import Dashboard

    return Dashboard()


def usage(m: OpenRouterMagics, words: list[str]) -> Any:
    from ... import usage

    if words and words[0] == "reset":
        usage.reset()
        print("Usage totals reset.")
        return None
    show_bundles([usage_bundle(usage.snapshot(), usage.totals())], rich=m._rich())
    from .._memory import budget_line

    line = budget_line(m)
    if line:
        print(line)
    return None


def reset(m: OpenRouterMagics, words: list[str]) -> Any:
    if not words or words == ["--all"]:
        if words == ["--all"]:
            m.chats.clear()
            print("All conversations cleared.")
        else:
            m.chats.pop("default", None)
            print("Conversation 'default' cleared.")
        return None
    for name in words:
        m.chats.pop(name, None)
    print(f"Conversation(s) {', '.join(words)} cleared.")


def history(m: OpenRouterMagics, words: list[str]) -> Any:
    name = words[0] if words else "default"
    log = m.chats.get(name, [])
    if not log:
        print(f"Conversation {name!r} is empty. Chats: {', '.join(m.chats) or 'none'}")
        return None
    md = "\n\n".join(f"**{e['role']}**: {e['content']}" for e in log)
    show_bundles([text_bundle(md)], rich=m._rich())


def key(m: OpenRouterMagics, words: list[str]) -> Any:
    """Set the key for this kernel from a hidden prompt (never from the line: it is saved);
    ``--save`` also keeps it in the OS keyring (optional ``keyring`` package)."""
    from ... import keyring_store
    from ...config import set_api_key

    if words and words[0] in ("--clear", "clear"):
        set_api_key(None)
        removed = keyring_store.delete_key()
        print(
            "Key cleared for this kernel"
            + (" and removed from the OS keyring" if removed else "")
            + " (OPENROUTER_API_KEY from the environment still applies)."
        )
        return None
    save = words == ["--save"]
    if save and not keyring_store.available():
        raise UsageError(
            "%openrouter key --save needs the optional 'keyring' package (pip install keyring); "
            "the key is never written to the notebook or the state directory"
        )
    if words and not save:
        raise UsageError(
            "%openrouter key takes no value on the line (it would be saved in the notebook); "
            "run it alone and paste the key into the hidden prompt"
        )
    import getpass

    try:
        where = "saved in the OS keyring" if save else "this kernel only"
        key = getpass.getpass(f"OpenRouter API key (hidden; {where}): ")
    except (EOFError, KeyboardInterrupt):
        print("No key entered.")
        return None
    except Exception as exc:  # StdinNotImplementedError: a frontend without input()
        raise OpenRouterCellError(
            "INVALID_INPUT",
            f"This frontend cannot prompt for input ({type(exc).__name__})",
            suggestions=[
                "Set OPENROUTER_API_KEY in the kernel's environment",
                "or call or_magic.set_api_key(...) with a value read from a file",
            ],
        ) from None
    key = (key or "").strip()
    if not key:
        print("No key entered; nothing changed.")
        return None
    from ...errors import ConfigError

    try:
        set_api_key(key, source="%openrouter key")
    except ConfigError as exc:  # a malformed key: a coded cell error, never INTERNAL
        del key
        raise cell_error(exc) from None
    if save:
        try:
            keyring_store.save_key(key)
        except RuntimeError as exc:
            del key
            raise OpenRouterCellError(
                "INVALID_INPUT",
                f"Key set for this kernel, but not saved: {exc}",
                suggestions=["Set OPENROUTER_API_KEY in the kernel's environment instead"],
            ) from None
        del key
        print(
            "Key set for this kernel and saved in the OS keyring (new kernels find it; "
            "%openrouter key --clear removes it). Check it with %openrouter health."
        )
        return None
    del key
    print("Key set for this kernel (not saved anywhere). Check it with %openrouter health.")


def config(m: OpenRouterMagics, words: list[str]) -> Any:
    from .._live import shell_kind

    s = m._settings()
    rows = [
        (f"OpenRouterMagics.{name}", repr(getattr(m, name)))
        for name in sorted(m.trait_names(config=True))
    ]
    rows += [
        ("backend", "offline double" if s.offline else s.base_url),
        ("API key", "set" if s.api_key is not None else "not set"),
        ("output root", str(s.output_root)),
        ("media dir", str(m._media_dir())),
        ("job registry", str(s.state_root)),
        ("frontend", shell_kind(m.shell)),
    ]
    show_bundles([table_bundle(("setting", "value"), rows, empty="")], rich=m._rich())
    print("Change with: %config OpenRouterMagics.default_model = 'openai/gpt-4o-mini'")

"""The command line's settings: flags over environment variables over the config file over defaults.

The config file is TOML, `config.toml` in the user's config folder
(~/.config/zhdocqa/config.toml on Linux) or wherever $ZHDOCQA_CONFIG points:

    corpus = "~/my_docs"
    k = 3
    color = "never"
    follow_links = false
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from pathlib import Path

import platformdirs

from retrieval import DEFAULT_K
from retrieval.cache import APP_NAME

MAX_K = 20
CONFIG_ENV = "ZHDOCQA_CONFIG"
CORPUS_ENV = "ZHDOCQA_CORPUS"
K_ENV = "ZHDOCQA_K"
COLOR_ENV = "ZHDOCQA_COLOR"
CONFIG_KEYS = ("corpus", "k", "color", "follow_links")


class ExitCode(IntEnum):
    """What the process tells the shell, as grep does."""

    ANSWERED = 0
    NO_ANSWER = 1
    USAGE = 2  # a bad flag, question, folder or setting
    INTERRUPTED = 130


class ColorMode(StrEnum):
    AUTO = "auto"
    ALWAYS = "always"
    NEVER = "never"


class SettingsError(ValueError):
    """A setting that cannot be used; the message says where it came from and what to write."""


@dataclass(frozen=True)
class Settings:
    corpus: str | None = None
    k: int = DEFAULT_K
    color: ColorMode = ColorMode.AUTO
    follow_links: bool = False


def config_path(environ: Mapping[str, str]) -> Path:
    """$ZHDOCQA_CONFIG, else config.toml in the user's config folder."""
    explicit = environ.get(CONFIG_ENV)
    if explicit:
        return Path(explicit).expanduser()
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def read_config(path: Path) -> dict[str, object]:
    """The config file's settings; empty when there is none."""
    try:
        table = tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise SettingsError(f"配置文件 {path} 无法读取({error.strerror})。请检查权限,或删除它。") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise SettingsError(f"配置文件 {path} 无法解析: {error}。请修正它,或删除它。") from None
    unknown = sorted(set(table) - set(CONFIG_KEYS))
    if unknown:
        raise SettingsError(f"配置文件 {path} 有未知的设置 {', '.join(unknown)};可用的设置: {', '.join(CONFIG_KEYS)}。")
    return table


def _k(value: object, where: str) -> int:
    try:
        k = int(str(value).strip()) if not isinstance(value, bool) else -1
    except ValueError:
        k = -1
    if not 1 <= k <= MAX_K:
        raise SettingsError(f"{where} 应为 1 到 {MAX_K} 之间的整数,收到 {value!r}。")
    return k


def _color(value: object, where: str) -> ColorMode:
    try:
        return ColorMode(str(value).strip().lower())
    except ValueError:
        raise SettingsError(f"{where} 应为 auto、always 或 never,收到 {value!r}。") from None


def resolve(flags: Mapping[str, object], environ: Mapping[str, str]) -> Settings:
    """The settings in force: each from the first of flags, environment, config file, default that sets it."""
    path = config_path(environ)
    config = read_config(path)
    where = f"配置文件 {path} 中的"
    corpus: str | None = None
    if flags.get("corpus"):
        corpus = str(flags["corpus"])
    elif environ.get(CORPUS_ENV):
        corpus = environ[CORPUS_ENV]
    elif "corpus" in config:
        if not isinstance(config["corpus"], str):
            raise SettingsError(f"{where} corpus 应为目录路径(加引号)。")
        corpus = config["corpus"]
    if flags.get("k") is not None:
        k = _k(flags["k"], "--k")
    elif environ.get(K_ENV):
        k = _k(environ[K_ENV], f"环境变量 {K_ENV}")
    else:
        k = _k(config.get("k", DEFAULT_K), f"{where} k")
    if flags.get("color") is not None:
        color = _color(flags["color"], "--color")
    elif environ.get(COLOR_ENV):
        color = _color(environ[COLOR_ENV], f"环境变量 {COLOR_ENV}")
    else:
        color = _color(config.get("color", "auto"), f"{where} color")
    follow = config.get("follow_links", False)
    if not isinstance(follow, bool):
        raise SettingsError(f"{where} follow_links 应为 true 或 false。")
    return Settings(corpus=corpus, k=k, color=color, follow_links=bool(flags.get("follow_links")) or follow)

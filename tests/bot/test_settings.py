"""Settings: flags over environment over the config file over defaults; bad values named with their source."""

from __future__ import annotations

import pytest

from bot.settings import ColorMode, SettingsError, resolve


def _env(tmp_path, **extra):
    return {"ZHDOCQA_CONFIG": str(tmp_path / "config.toml"), **extra}


def test_defaults_without_flags_environment_or_config(tmp_path):
    settings = resolve({}, _env(tmp_path))
    assert (settings.corpus, settings.k, settings.color, settings.follow_links) == (None, 5, ColorMode.AUTO, False)


def test_config_then_environment_then_flags_win(tmp_path):
    (tmp_path / "config.toml").write_text('corpus = "/from/config"\nk = 3\ncolor = "never"\nfollow_links = true\n', "utf-8")
    from_config = resolve({}, _env(tmp_path))
    assert (from_config.corpus, from_config.k, from_config.color, from_config.follow_links) == (
        "/from/config", 3, ColorMode.NEVER, True)
    from_env = resolve({}, _env(tmp_path, ZHDOCQA_CORPUS="/from/env", ZHDOCQA_K="7", ZHDOCQA_COLOR="always"))
    assert (from_env.corpus, from_env.k, from_env.color) == ("/from/env", 7, ColorMode.ALWAYS)
    from_flags = resolve({"corpus": "/from/flag", "k": 2, "color": "auto"}, _env(tmp_path, ZHDOCQA_K="7"))
    assert (from_flags.corpus, from_flags.k, from_flags.color) == ("/from/flag", 2, ColorMode.AUTO)


@pytest.mark.parametrize(
    "config, environ, flags, message",
    [
        ("k = 50\n", {}, {}, r"config.toml 中的 k 应为 1 到 20"),
        ("colour = 'never'\n", {}, {}, "未知的设置 colour"),
        ("k = [\n", {}, {}, "无法解析"),
        ("", {"ZHDOCQA_K": "many"}, {}, "环境变量 ZHDOCQA_K 应为 1 到 20"),
        ("", {"ZHDOCQA_COLOR": "blue"}, {}, "环境变量 ZHDOCQA_COLOR 应为 auto、always 或 never"),
        ("", {}, {"k": 0}, "--k 应为 1 到 20"),
        ("follow_links = 'yes'\n", {}, {}, "follow_links 应为 true 或 false"),
    ],
)
def test_bad_settings_say_where_they_came_from(tmp_path, config, environ, flags, message):
    (tmp_path / "config.toml").write_text(config, "utf-8")
    with pytest.raises(SettingsError, match=message):
        resolve(flags, _env(tmp_path, **environ))

"""DingTalk (钉钉) custom group bots: signed markdown messages (docs/channels-cn.md)."""

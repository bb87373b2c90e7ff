"""WeCom (企业微信) group bots: markdown messages (docs/channels-cn.md)."""

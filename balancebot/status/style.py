"""The status page's stylesheet: light and dark (the reader's `prefers-color-scheme`), one
column on a phone, cards side by side on a wide screen; the charts' colours by class."""

CSS = """
:root{color-scheme:light dark;--bg:#f4f5f7;--card:#fff;--fg:#1b1f24;--muted:#5d6673;
--line:#d9dde3;--grid:#e7eaee;--accent:#2563eb;--ok:#15803d;--warn:#b45309;--crit:#c81e1e;
--info:#2563eb;--band:rgba(200,30,30,.13);--okbg:#e7f6ec;--warnbg:#fdf1e1;--critbg:#fde8e8}
@media (prefers-color-scheme:dark){:root{--bg:#0f1216;--card:#181c22;--fg:#e6e8eb;
--muted:#98a1ad;--line:#2b3139;--grid:#252b33;--accent:#6ea8fe;--ok:#4ade80;--warn:#fbbf24;
--crit:#f87171;--info:#6ea8fe;--band:rgba(248,113,113,.2);--okbg:#10291a;--warnbg:#2f2410;
--critbg:#3a1616}}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.45 system-ui,-apple-system,
"Segoe UI",Roboto,"Noto Sans","PingFang SC","Hiragino Sans GB","Microsoft YaHei",
"Noto Sans CJK SC","WenQuanYi Zen Hei",sans-serif;overflow-wrap:anywhere}
main{max-width:1180px;margin:0 auto;padding:12px}
header{display:flex;flex-wrap:wrap;align-items:center;gap:6px 14px;margin:4px 0 12px}
h1{font-size:1.15rem;margin:0;font-weight:650}
h2{font-size:.8rem;text-transform:uppercase;letter-spacing:.06em;color:var(--muted);
margin:18px 0 8px;font-weight:650}
.meta{color:var(--muted);font-size:.85rem}
.meta a{color:inherit}
.state{border-radius:10px;padding:10px 14px;font-weight:600;margin-bottom:4px;
border:1px solid var(--line)}
.state.ok{background:var(--okbg);color:var(--ok)}
.state.warning{background:var(--warnbg);color:var(--warn)}
.state.critical{background:var(--critbg);color:var(--crit)}
.problem{background:var(--critbg);color:var(--crit);border-radius:10px;padding:8px 12px;
margin:8px 0}
ul.list{list-style:none;margin:0;padding:0;background:var(--card);border:1px solid var(--line);
border-radius:10px}
ul.list li{padding:9px 12px;border-top:1px solid var(--line)}
ul.list li:first-child{border-top:0}
.empty{color:var(--muted);padding:9px 12px;background:var(--card);border:1px solid var(--line);
border-radius:10px}
.badge{display:inline-block;font-size:.72rem;font-weight:700;letter-spacing:.04em;
border-radius:999px;padding:1px 8px;margin-right:6px;vertical-align:1px;
border:1px solid currentColor}
.badge.critical{color:var(--crit)}.badge.warning{color:var(--warn)}
.badge.info{color:var(--info)}.badge.ok{color:var(--ok)}.badge.pending{color:var(--muted)}
.sub{color:var(--muted);font-size:.85rem}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,340px),1fr));
gap:12px}
.card{background:var(--card);border:1px solid var(--line);border-left:4px solid var(--ok);
border-radius:10px;padding:12px;min-width:0}
.card.warning{border-left-color:var(--warn)}.card.critical{border-left-color:var(--crit)}
.card.unknown{border-left-color:var(--muted)}
.card h3{margin:0;font-size:1.05rem;display:flex;flex-wrap:wrap;gap:4px 8px;
align-items:baseline}
.card h3 .sub{font-weight:400}
.check{margin:4px 0 8px;font-size:.88rem}
.check.failed{color:var(--crit)}
.currency{border-top:1px solid var(--line);padding-top:8px;margin-top:8px}
.amount{font-size:1.55rem;font-weight:650;font-variant-numeric:tabular-nums;line-height:1.2}
.amount small{font-size:.9rem;color:var(--muted);font-weight:500;margin-left:4px}
.facts{margin:2px 0 6px;font-size:.86rem;color:var(--muted)}
.facts b{color:var(--fg);font-weight:600}
svg.chart{display:block;width:100%;height:auto;margin-top:4px}
svg.chart text{fill:var(--muted);font-family:inherit}
svg.chart .grid{stroke:var(--grid);stroke-width:1}
svg.chart .axisline{stroke:var(--line);stroke-width:1}
svg.chart .line{fill:none;stroke:var(--accent);stroke-width:1.8;stroke-linejoin:round}
svg.chart .now{fill:var(--accent)}
svg.chart .warn{stroke:var(--warn);stroke-dasharray:2 3;stroke-width:1.3}
svg.chart .crit{stroke:var(--crit);stroke-dasharray:2 3;stroke-width:1.3}
svg.chart .warn-text{fill:var(--warn)}svg.chart .crit-text{fill:var(--crit)}
svg.chart .failed{fill:var(--band)}
svg.chart .topup{fill:var(--ok)}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;font-size:.78rem;color:var(--muted);
margin-top:14px}
.legend i{display:inline-block;width:14px;height:0;vertical-align:middle;margin-right:5px;
border-top:2px solid var(--accent)}
.legend i.warn{border-top:2px dotted var(--warn)}.legend i.crit{border-top:2px dotted var(--crit)}
.legend i.failed{height:10px;border:0;background:var(--band)}
.legend i.topup{width:0;height:0;border-left:5px solid transparent;border-right:5px solid
transparent;border-bottom:8px solid var(--ok);border-top:0}
footer{margin:18px 0 8px;color:var(--muted);font-size:.8rem}
footer a{color:inherit}
"""

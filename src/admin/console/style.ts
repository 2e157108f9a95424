/**
 * The status page's stylesheet, served at /console/console.css. Plain CSS: one column on a phone,
 * a grid of cards on wider screens; colours meet WCAG AA contrast (4.5:1 for text) in the light and
 * the dark scheme, and no state is told by colour alone (badges say "up", "down", "excluded").
 */
export const CONSOLE_CSS = `
:root {
  --bg: #f6f8fa; --fg: #1b1f24; --muted: #4d5560; --card: #ffffff; --line: #d0d7de;
  --ok-bg: #dcf5e3; --ok-fg: #0a5c27; --bad-bg: #fde2e2; --bad-fg: #8f1d1d;
  --warn-bg: #fff1cc; --warn-fg: #6b4200; --info-bg: #e3edfb; --info-fg: #17407a;
  --bar: #2f6fd0; --bar-bg: #e6eaef; --link: #0b55c4;
  color-scheme: light dark;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0f1419; --fg: #e6edf3; --muted: #a8b3bf; --card: #171d24; --line: #33404d;
    --ok-bg: #12381f; --ok-fg: #8ee0a8; --bad-bg: #4a1717; --bad-fg: #ffb4b4;
    --warn-bg: #43330b; --warn-fg: #ffd77a; --info-bg: #14294a; --info-fg: #a9c8ff;
    --bar: #5b9bff; --bar-bg: #2a333d; --link: #8ab4ff;
  }
}
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: var(--bg); color: var(--fg); }
a { color: var(--link); }
header.top { display: flex; flex-wrap: wrap; align-items: baseline; gap: .5rem 1rem; padding: .75rem 1rem; border-bottom: 1px solid var(--line); background: var(--card); }
header.top h1 { font-size: 1.2rem; margin: 0; }
header.top .live-state { color: var(--muted); font-size: .85rem; }
header.top form { margin-left: auto; }
main { padding: 1rem; max-width: 1400px; margin: 0 auto; display: grid; gap: 1.25rem; }
section > h2 { font-size: 1.05rem; margin: 0 0 .5rem; }
.figures { display: grid; grid-template-columns: repeat(auto-fit, minmax(140px, 1fr)); gap: .5rem; margin: 0; }
.figures div { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .5rem .75rem; }
.figures dt { color: var(--muted); font-size: .8rem; }
.figures dd { margin: 0; font-size: 1.25rem; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(280px, 1fr)); gap: .75rem; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: .75rem; min-width: 0; }
.card h3 { margin: 0 0 .35rem; font-size: 1.05rem; display: flex; flex-wrap: wrap; gap: .35rem; align-items: center; }
.card dl { display: grid; grid-template-columns: auto 1fr; gap: .15rem .75rem; margin: .35rem 0 0; font-size: .9rem; }
.card dt { color: var(--muted); }
.card dd { margin: 0; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
.lag-now { font-size: 1.6rem; font-variant-numeric: tabular-nums; }
.badge { display: inline-block; padding: .05rem .45rem; border-radius: 999px; font-size: .78rem; font-weight: 600; }
.ok { background: var(--ok-bg); color: var(--ok-fg); }
.bad { background: var(--bad-bg); color: var(--bad-fg); }
.warn { background: var(--warn-bg); color: var(--warn-fg); }
.info { background: var(--info-bg); color: var(--info-fg); }
.bar { height: .6rem; background: var(--bar-bg); border-radius: 4px; overflow: hidden; min-width: 6rem; }
.bar > span { display: block; height: 100%; background: var(--bar); }
.spark { height: 70px; margin-top: .4rem; overflow: hidden; }
.chart { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: .5rem; min-height: 60px; min-width: 0; overflow: hidden; }
.two > *, .cards > *, main > * { min-width: 0; }
.wrap { overflow-x: auto; background: var(--card); border: 1px solid var(--line); border-radius: 10px; }
table { border-collapse: collapse; width: 100%; font-size: .88rem; }
th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td code { font-size: .82rem; overflow-wrap: anywhere; }
.two { display: grid; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); gap: .75rem; }
.muted { color: var(--muted); }
ul.events { list-style: none; margin: 0; padding: 0; background: var(--card); border: 1px solid var(--line); border-radius: 10px; }
ul.events li { padding: .4rem .75rem; border-bottom: 1px solid var(--line); display: flex; gap: .5rem; flex-wrap: wrap; }
ul.events time { color: var(--muted); font-variant-numeric: tabular-nums; }
details summary { cursor: pointer; }
.login { max-width: 420px; margin: 4rem auto; background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 1.25rem; }
.login input { width: 100%; padding: .5rem; font: inherit; margin: .5rem 0; }
button { font: inherit; padding: .35rem .8rem; }
.uplot { font-size: .75rem; }
`;

"""The page's fixed style and script, and the content policy that lets only them apply.

Nothing of a run is in either: the script reads the page as rendered.
"""

from __future__ import annotations

import base64
import hashlib

__all__ = ["CSP", "CSS", "SCRIPT"]

CSS = """
:root{--fg:#1b1f24;--muted:#59636e;--line:#d8dee4;--bg:#fff;--soft:#f6f8fa;
--ok:#1a7f37;--warn:#9a6700;--bad:#cf222e;--okbg:#dafbe1;--badbg:#ffebe9;--warnbg:#fff8c5}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);
background:var(--bg)}
main{max-width:1240px;margin:0 auto;padding:20px 24px 60px}
h1{font-size:22px;margin:0}h2{font-size:18px;margin:28px 0 8px}
h3{font-size:15px;margin:16px 0 6px}
h4{font-size:13px;margin:12px 0 4px;color:var(--muted);text-transform:uppercase;
letter-spacing:.04em}
.two{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:28px}
@media (max-width:900px){.two{grid-template-columns:1fr}}
.title{display:flex;gap:12px;align-items:center}
.verdict{margin:10px 0;padding:10px 14px;border-radius:6px;font-size:15px}
.verdict.pass{background:var(--okbg);color:#0a3b18}.verdict.fail{background:var(--badbg);color:#6e0b12}
.kpis{display:flex;flex-wrap:wrap;gap:28px;margin:12px 0 4px}
.kpis div{display:flex;flex-direction:column}.kpis span:last-child{color:var(--muted)}
.big{font-size:26px;font-weight:600;font-variant-numeric:tabular-nums}
.muted{color:var(--muted);font-weight:normal;font-size:13px}
table{border-collapse:collapse;width:100%;margin:4px 0}
th,td{padding:5px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
thead th{background:var(--soft);font-weight:600;white-space:nowrap;position:sticky;top:0}
th.num,td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.facts th{width:150px;background:none;font-weight:600}
tr.bad td:first-child{box-shadow:inset 4px 0 var(--bad)}
tr.warn td:first-child{box-shadow:inset 4px 0 #d4a72c}
tr.ok td:first-child{box-shadow:inset 4px 0 #4ac26b}
tr.bad .score{color:var(--bad);font-weight:600}
.ok-text{color:var(--ok)}.bad-text{color:var(--bad);font-weight:600}
.tag{display:inline-block;padding:0 7px;border-radius:10px;background:var(--soft);
border:1px solid var(--line);font-size:12px;font-weight:normal}
.tag.bad{background:var(--badbg);border-color:#ffcecb;color:var(--bad)}
.tag.partial{background:var(--warnbg);border-color:#eed888;color:var(--warn)}
.bar{position:relative;display:inline-block;width:160px;height:14px;background:var(--soft);
border:1px solid var(--line);border-radius:3px;vertical-align:middle}
.bar .ci{position:absolute;top:3px;height:6px;background:#9ecbff;border-radius:2px}
.bar .pt{position:absolute;top:0;width:2px;height:12px;margin-left:-1px;background:#0550ae}
.bar .bd{position:absolute;top:-2px;width:0;height:16px;border-left:2px dashed var(--bad)}
code{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:var(--soft);
padding:1px 4px;border-radius:3px;overflow-wrap:anywhere}
pre{font:12px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:var(--soft);
padding:8px 10px;border-radius:4px;margin:2px 0;white-space:pre-wrap;overflow-wrap:anywhere;
max-height:480px;overflow:auto}
details.case{border:1px solid var(--line);border-radius:6px;margin:4px 0;background:var(--bg)}
details.case>summary{cursor:pointer;padding:6px 10px;list-style-position:outside;margin-left:14px}
details.case[open]>summary{background:var(--soft);border-bottom:1px solid var(--line)}
.cm{font-weight:600}.why{color:var(--muted)}
.case .body{padding:4px 14px 12px}
.msg{margin:6px 0;border-left:3px solid var(--line);padding-left:8px}
.msg .role{font-size:12px;font-weight:600;color:var(--muted)}
.msg.user{border-color:#0969da}.msg.assistant{border-color:#8250df}.msg.system{border-color:#9a6700}
.msg.tool,.msg.function{border-color:#1a7f37}
pre.reply{border-left:3px solid #8250df}
.filter input{width:min(560px,100%);padding:6px 10px;font:inherit;border:1px solid var(--line);
border-radius:6px}
.more{font-weight:600}
a{color:#0969da}a.jump{color:var(--bad);font-weight:600}
nav{margin:14px 0 0;padding:8px 0;border-top:1px solid var(--line);
border-bottom:1px solid var(--line);font-size:13px}
#gates td:nth-child(2){overflow-wrap:anywhere}
svg.chart{width:100%;height:auto;max-width:960px;display:block}
svg .grid{stroke:#e5e9ee}svg .mark{stroke:#59636e;stroke-dasharray:4 3}
svg .axis{font-size:11px;fill:#59636e}svg .legend{font-size:12px;font-weight:600}
svg .line{fill:none;stroke-width:1.5}svg .line.overall{stroke-width:3}
th.sorted-asc::after{content:" ▲"}th.sorted-desc::after{content:" ▼"}
.sortable thead th:not(.nosort){cursor:pointer}
"""

# The script is fixed text: nothing of the run is in it. It reads the page as rendered.
SCRIPT = """
(function(){
var box=document.getElementById("filter");
if(box){
  box.parentNode.hidden=false;
  var cases=Array.prototype.slice.call(document.querySelectorAll("#case-list>details.case"));
  var texts=null,count=document.getElementById("filter-count");
  var run=function(){
    if(texts===null){texts=cases.map(function(c){return c.textContent.toLowerCase();});}
    var q=box.value.trim().toLowerCase(),shown=0;
    for(var i=0;i<cases.length;i++){var hit=!q||texts[i].indexOf(q)>=0;cases[i].hidden=!hit;
      if(hit){shown++;}}
    count.textContent=q?shown+" of "+cases.length+" shown":"";
  };
  box.addEventListener("input",run);
  document.querySelectorAll("a.jump").forEach(function(a){
    a.addEventListener("click",function(){
      var row=a.closest("tr");
      box.value=row.cells[0].textContent+"/"+row.querySelector(".mname").textContent;run();
    });
  });
}
document.querySelectorAll("table.sortable").forEach(function(table){
  var heads=table.querySelectorAll("thead th");
  heads.forEach(function(th,col){
    if(th.classList.contains("nosort")){return;}
    th.addEventListener("click",function(){
      var asc=!th.classList.contains("sorted-asc");
      heads.forEach(function(h){h.classList.remove("sorted-asc","sorted-desc");});
      th.classList.add(asc?"sorted-asc":"sorted-desc");
      var body=table.tBodies[0],rows=Array.prototype.slice.call(body.rows);
      var key=function(r){var c=r.cells[col];if(!c){return "";}
        var v=c.getAttribute("data-v");var n=parseFloat(v===null?c.textContent:v);
        return isNaN(n)?c.textContent.toLowerCase():n;};
      rows.sort(function(a,b){var x=key(a),y=key(b);
        var d=(typeof x===typeof y)?(x<y?-1:x>y?1:0):(typeof x==="number"?-1:1);
        return asc?d:-d;});
      rows.forEach(function(r){body.appendChild(r);});
    });
  });
});
})();
"""

SCRIPT_HASH = base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()
# Nothing may load or run but the page's own style and its one script.
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    f"script-src 'sha256-{SCRIPT_HASH}'; base-uri 'none'; form-action 'none'"
)

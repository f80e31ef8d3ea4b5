"""The `check` printout: one review as the Chinese text the CLI prints (categories, totals, findings)."""
from __future__ import annotations

from .model import Review, severity_label
from .fmt import pad, plain, year_label
from .labels import finding_label, profile_title


def review_summary(r: Review) -> str:
    ev = r.evaluation
    lines = [
        f"文件：{ev.file}",
        f"工作表：{ev.sheet}",
        f"项目：{ev.project_name.text}（{year_label(ev.year.text) or '项目年份未填写'}，{ev.department.text or '主管部门未填写'}）",
        f"评分规则：{profile_title(r.profile)}（{r.profile}）",
        "",
        _row("类别", "分值", "权重合计", "自评分", "规则得分"),
    ]
    for c in r.categories:
        pts = plain(c.points) if c.points is not None else "—"
        lines.append(_row(c.name, pts, plain(c.weight_sum), plain(c.self), plain(c.computed)))
    if r.execution_score is not None:  # national form: the 预算执行率 row
        own = plain(r.execution_self) if r.execution_self is not None else "未填"
        lines.append(_row("预算执行率", "", "", own, plain(r.execution_score)))
    stated = plain(r.stated_total) if r.stated_total is not None else "未填"
    grade = f"，等级 {r.grade}" if r.grade else ""
    lines += ["", f"合计：填报 {stated}，自评分之和 {plain(r.self_total)}，按规则 {plain(r.computed_total)}{grade}", ""]
    counts = r.severity_counts()
    lines.append(f"复核发现 {len(r.findings)} 条：错误 {counts['error']}，警告 {counts['warning']}，提示 {counts['info']}")
    for sev in ("error", "warning", "info"):
        for f in r.findings:
            if f.severity == sev:
                lines.append(f"  [{severity_label(sev)}] {finding_label(f.code, f.severity)}（{f.code}）{f.cell}：{f.message}")
    return "\n".join(lines)


def _row(name: str, *cells: str) -> str:
    return pad(name, 12) + "".join(pad(c, 10, right=True) for c in cells)

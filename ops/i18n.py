"""The consoles' words in Mandarin and English, and the language a page is shown in."""

from __future__ import annotations

from flask import request, session

LANGUAGES = ("zh", "en")

WORDS: dict[str, dict[str, str]] = {
    "title": {"zh": "法律咨询热线 · 管理台", "en": "Legal hotline · Console"},
    "login": {"zh": "登录", "en": "Sign in"},
    "logout": {"zh": "退出", "en": "Sign out"},
    "name": {"zh": "用户名", "en": "User name"},
    "password": {"zh": "密码", "en": "Password"},
    "bad_login": {"zh": "用户名或密码错误。", "en": "Wrong user name or password."},
    "too_many": {"zh": "失败次数过多，请稍后再试。", "en": "Too many tries; try again later."},
    "expired": {"zh": "会话已过期，请重新登录。", "en": "Your session expired; sign in again."},
    "roster": {"zh": "排班表", "en": "Roster"},
    "agents": {"zh": "坐席与技能", "en": "Agents & skills"},
    "coverage": {"zh": "覆盖情况", "en": "Coverage"},
    "hours": {"zh": "服务时间与节假日", "en": "Hours & holidays"},
    "wallboard": {"zh": "实时看板", "en": "Wallboard"},
    # Listen-in (ops.listen_in): a supervisor on a live call from the wallboard, by phone.
    "live_calls": {"zh": "通话中", "en": "Calls in progress"},
    "no_live_calls": {"zh": "暂无进行中的通话。", "en": "No calls in progress."},
    "listen_in": {"zh": "旁听", "en": "Listen-in"},
    "listen_in_help": {
        "zh": "系统将拨打您在排班表中的电话并接入通话；来电者不会被告知。",
        "en": "Your phone on the roster is rung into the call; the caller is never told.",
    },
    "mode_listen": {"zh": "监听", "en": "Listen"},
    "mode_coach": {"zh": "指导", "en": "Coach"},
    "mode_barge": {"zh": "插话", "en": "Barge"},
    "leave_call": {"zh": "退出", "en": "Leave"},
    "since_time": {"zh": "开始", "en": "Since"},
    "li_ringing": {"zh": "正在呼叫主管电话", "en": "Ringing the supervisor's phone"},
    "li_on": {"zh": "已接入", "en": "On the call"},
    "li_ended": {"zh": "已结束", "en": "Ended"},
    "li_failed": {"zh": "未能接入", "en": "Could not join"},
    "listen_in_ringing_you": {
        "zh": "正在呼叫您的电话，接听后即加入通话。",
        "en": "Your phone is ringing; answer it to join the call.",
    },
    "listen_in_now": {"zh": "现在的方式：{mode}", "en": "Now: {mode}"},
    "listen_in_left": {"zh": "您已退出通话。", "en": "You left the call."},
    "supervisor_listen": {"zh": "主管正在监听本通话", "en": "A supervisor is listening"},
    "supervisor_coach": {
        "zh": "主管正在指导您（来电者听不到）",
        "en": "A supervisor is coaching you (the caller cannot hear)",
    },
    "supervisor_barge": {"zh": "主管已加入本通话", "en": "A supervisor has joined the call"},
    "alerts": {"zh": "告警", "en": "Alerts"},
    "incidents": {"zh": "危机事件", "en": "Crisis incidents"},
    "audit": {"zh": "审计日志", "en": "Audit log"},
    "users": {"zh": "用户", "en": "Users"},
    "tokens": {"zh": "API 令牌", "en": "API tokens"},
    "tokens_of": {"zh": "{name} 的 API 令牌", "en": "API tokens of {name}"},
    "tokens_help": {
        "zh": "令牌供脚本和工具调用 /api/v1 接口，到期自动失效（默认90天）。"
        "新令牌只显示一次；不用的令牌请立即吊销。",
        "en": "Tokens let scripts and tools call /api/v1; each expires (after 90 days unless "
        "set). A new token is shown once; revoke any you no longer use.",
    },
    "token_name": {"zh": "名称", "en": "Name"},
    "token_days": {"zh": "有效天数", "en": "Valid for (days)"},
    "token_created": {"zh": "创建", "en": "Created"},
    "token_expires": {"zh": "到期", "en": "Expires"},
    "token_last_used": {"zh": "最近使用", "en": "Last used"},
    "token_never_used": {"zh": "从未使用", "en": "never"},
    "token_expired": {"zh": "已过期", "en": "expired"},
    "token_make": {"zh": "生成令牌", "en": "Make a token"},
    "token_new": {
        "zh": "新令牌（只显示这一次，请立即保存）：",
        "en": "Your new token (shown this once; keep it now):",
    },
    "token_none": {"zh": "没有令牌。", "en": "No tokens."},
    "revoke": {"zh": "吊销", "en": "Revoke"},
    "revoked": {"zh": "已吊销。", "en": "Revoked."},
    "logout_everywhere": {"zh": "退出所有设备", "en": "Sign out everywhere"},
    "logout_everywhere_help": {
        "zh": "结束您在所有浏览器和设备上的登录（API 令牌不受影响）。",
        "en": "Ends your sessions in every browser and device (API tokens stay).",
    },
    "desk": {"zh": "坐席工作台", "en": "Agent desk"},
    # Transfer from the desk (queues.transfers): to an area or a named agent, warm or cold.
    "transfer": {"zh": "转接", "en": "Transfer"},
    "transfer_to_area": {"zh": "转到领域", "en": "To area"},
    "transfer_to_agent": {"zh": "或转给咨询员", "en": "Or to consultant"},
    "transfer_warm": {
        "zh": "陪同转接（留在通话中直到对方接听）",
        "en": "Warm (stay on until they accept)",
    },
    "transfer_cold": {"zh": "直接转接（立即离开）", "en": "Cold (leave now)"},
    "transfer_note": {
        "zh": "目前的记录（下一位咨询员会听到）",
        "en": "Note so far (read to the next consultant)",
    },
    "transfer_started": {"zh": "已开始转接。", "en": "Transfer started."},
    "transfer_refused": {
        "zh": "无法转接：{reason}。来电者仍在您这里。",
        "en": "Not transferred: {reason}. The caller is still with you.",
    },
    "transfer_state_pending": {
        "zh": "转接中，等待对方接听",
        "en": "Transfer waiting for the next consultant",
    },
    "transfer_state_done": {"zh": "转接完成，已由{agent}接听", "en": "Transfer taken by {agent}"},
    "transfer_state_back": {
        "zh": "转接无人接听，来电者已回到您这里",
        "en": "Nobody took the transfer: the caller is back with you",
    },
    "transfer_state_expired": {
        "zh": "转接无人接听，来电者在新领域排队",
        "en": "Nobody took the transfer yet: the caller waits in the new area",
    },
    "transfer_state_cancelled": {"zh": "转接未能开始", "en": "The transfer could not start"},
    "transfer_state_opening": {"zh": "正在转接", "en": "Transferring"},
    "earlier_calls": {"zh": "此前来电", "en": "Earlier calls"},
    "call_number": {"zh": "第{n}次来电", "en": "call number {n}"},
    "taken_by": {"zh": "接听人", "en": "Taken by"},
    "note_hidden": {
        "zh": "其他咨询员的备注（仅主管可见）",
        "en": "another agent's note (supervisors only)",
    },
    "agent": {"zh": "坐席", "en": "Agent"},
    "day": {"zh": "星期", "en": "Day"},
    "start": {"zh": "开始", "en": "Start"},
    "end": {"zh": "结束", "en": "End"},
    "add_shift": {"zh": "添加班次", "en": "Add shift"},
    "remove": {"zh": "删除", "en": "Remove"},
    "save": {"zh": "保存", "en": "Save"},
    "add": {"zh": "添加", "en": "Add"},
    "import": {"zh": "导入", "en": "Import"},
    "export": {"zh": "导出", "en": "Export"},
    "import_help": {
        "zh": "上传 YAML 或 CSV 排班文件；有错误，或未来14天有无人值守的时段"
        "（无值班主管，或开放领域无危机干预坐席在班），全部不生效。",
        "en": "Upload a YAML or CSV roster; any problem, or any hour of the next 14 days without "
        "a supervisor on call or an open area without a crisis-trained agent, and nothing is "
        "applied.",
    },
    "import_force": {
        "zh": "即使有无人值守的时段也导入（记入审计日志）",
        "en": "Import even with uncovered hours (audited as forced)",
    },
    "import_forced": {
        "zh": "已强制导入：未来14天有 {count} 个无人值守的时段，已记入审计日志。",
        "en": "Imported by force: {count} uncovered stretch(es) in the next 14 days, audited.",
    },
    "week_of": {"zh": "每周排班（{tz}）", "en": "Weekly shifts ({tz})"},
    "overnight": {"zh": "跨夜", "en": "overnight"},
    "languages": {"zh": "语言", "en": "Languages"},
    "skills": {"zh": "技能（领域:级别）", "en": "Skills (area:level)"},
    "crisis_trained": {"zh": "危机干预培训", "en": "Crisis-trained"},
    "phone": {"zh": "电话", "en": "Phone"},
    "presence": {"zh": "状态", "en": "Presence"},
    "on_shift": {"zh": "在班", "en": "On shift"},
    "gaps": {"zh": "无人覆盖的时段", "en": "Uncovered hours"},
    "no_gaps": {"zh": "未来14天没有空缺。", "en": "No gaps in the next 14 days."},
    "closed": {"zh": "不服务", "en": "closed"},
    "gap": {"zh": "空缺", "en": "gap"},
    # The coverage page's staffing plan (ops.planning, docs/staffing.md).
    "plan": {"zh": "人手需求预测（每半小时）", "en": "Agents required per half-hour (forecast)"},
    "plan_by_day": {"zh": "按天", "en": "By day"},
    "plan_by_week": {"zh": "按周", "en": "By week"},
    "plan_show": {"zh": "查看", "en": "Show"},
    "plan_earlier": {"zh": "上一周", "en": "Previous week"},
    "plan_later": {"zh": "下一周", "en": "Next week"},
    "plan_source_records": {"zh": "持久通话记录", "en": "the durable call records"},
    "plan_source_redis": {
        "zh": "Redis 事件流（只保留几天，尚无持久通话记录）",
        "en": "the Redis event stream (a few days deep; no durable call records yet)",
    },
    "plan_learned": {
        "zh": "依据{source}：{first} 至 {last}（{days} 天，{calls} 通来电）",
        "en": "Learned from {source}: {first} to {last} ({days} days, {calls} calls)",
    },
    "plan_targets": {
        "zh": "目标：{sl}% 来电 {seconds} 秒内接通，占用率不超过 {occupancy}%，损耗 {shrinkage}%",
        "en": "Targets: {sl}% answered within {seconds} s, occupancy at most {occupancy}%, "
        "shrinkage {shrinkage}%",
    },
    "plan_time": {"zh": "时段", "en": "Time"},
    "plan_pattern": {"zh": "参照", "en": "Pattern"},
    "plan_calls": {"zh": "预计来电", "en": "Calls expected"},
    "plan_aht": {"zh": "平均处理（秒）", "en": "Handling (s)"},
    "plan_required": {"zh": "需要", "en": "Required"},
    "plan_rostered": {"zh": "已排班", "en": "Rostered"},
    "plan_short": {"zh": "缺 {n} 人", "en": "{n} short"},
    "plan_cell": {"zh": "格中：已排班 / 需要", "en": "Each cell: rostered / required"},
    "plan_summary": {
        "zh": "未来 {days} 天中 {short}/{total} 个半小时人手不足，共缺 {hours} 人·小时。",
        "en": "{short} of {total} half-hours short of agents over {days} days: "
        "{hours} agent-hours missing.",
    },
    "plan_unavailable": {"zh": "暂时无法预测：", "en": "No forecast yet:"},
    "area": {"zh": "领域", "en": "Area"},
    "language": {"zh": "语言", "en": "Language"},
    "waiting": {"zh": "等待中", "en": "Waiting"},
    "longest_wait": {"zh": "最长等待", "en": "Longest wait"},
    "answer_rate": {"zh": "今日接通率", "en": "Answer rate today"},
    "agents_by_state": {"zh": "坐席状态", "en": "Agents by state"},
    "updated": {"zh": "更新于", "en": "Updated"},
    "available": {"zh": "空闲可接", "en": "Available"},
    "on_break": {"zh": "休息", "en": "On break"},
    "offline": {"zh": "离线", "en": "Offline"},
    "reserved": {"zh": "振铃中", "en": "Ringing"},
    "talking": {"zh": "通话中", "en": "Talking"},
    "wrap_up": {"zh": "话后整理", "en": "Wrap-up"},
    "no_call": {"zh": "当前没有来电。", "en": "No call right now."},
    "ringing": {"zh": "来电振铃中", "en": "Call ringing"},
    "accepted": {"zh": "通话中", "en": "In call"},
    "finished": {"zh": "已结束", "en": "Ended"},
    "wait": {"zh": "等待时长", "en": "Waited"},
    "summary": {"zh": "来电摘要", "en": "Intake summary"},
    "note": {"zh": "话后备注", "en": "Wrap-up note"},
    "flag_heavy": {"zh": "标记为沉重来电", "en": "Flag as heavy call"},
    "flag_crisis": {"zh": "标记为危机来电", "en": "Flag as crisis"},
    "flags": {"zh": "标记", "en": "Flags"},
    # Live assist on the desk (ops.live_desk): the caller's thermometer, the transcript, facts.
    "live_assist": {"zh": "实时辅助", "en": "Live assist"},
    "assist_level": {"zh": "情绪温度", "en": "Thermometer"},
    "assist_level_1": {"zh": "平静", "en": "Calm"},
    "assist_level_2": {"zh": "略有紧张", "en": "A little tense"},
    "assist_level_3": {"zh": "情绪上升", "en": "Rising"},
    "assist_level_4": {"zh": "激动", "en": "Agitated"},
    "assist_level_5": {"zh": "非常激动", "en": "Very agitated"},
    "assist_waiting": {"zh": "等待来电者的声音…", "en": "Waiting for the caller's voice…"},
    "assist_curve": {"zh": "近两分钟", "en": "Last two minutes"},
    "transcript": {"zh": "实时转写", "en": "Live transcript"},
    "track_caller": {"zh": "来电者", "en": "Caller"},
    "track_agent": {"zh": "坐席", "en": "Agent"},
    "crisis_heard": {
        "zh": "来电者说到了危机相关的话：",
        "en": "The caller said words of a crisis:",
    },
    "escalate_crisis": {
        "zh": "危机升级：立即接入值班主管",
        "en": "Escalate as a crisis: bring in the on-call supervisor now",
    },
    "facts_heading": {
        "zh": "通话要点（根据转写自动提取，请核对）：",
        "en": "Key facts (picked from the transcript; check them):",
    },
    "facts_sep": {"zh": "、", "en": ", "},
    "fact_date": {"zh": "日期", "en": "Dates"},
    "fact_amount": {"zh": "金额", "en": "Amounts"},
    "fact_party": {"zh": "相关方", "en": "Parties"},
    "fact_employer": {"zh": "单位", "en": "Employers"},
    "facts_prefilled": {
        "zh": "备注已按通话要点预填，保存前可修改；不保存则不会留存。",
        "en": "The note starts from the key facts said; edit it before saving. Nothing is kept "
        "unless you save.",
    },
    "my_shifts": {"zh": "我的班次（iCal）", "en": "My shifts (iCal)"},
    "seconds": {"zh": "秒", "en": "s"},
    "hours_help": {
        "zh": "在这里修改各领域的服务时间和节假日安排，下一通来电即按新时间处理"
        "（含休息提示和留言回拨）。“恢复默认”回到热线配置文件中的时间。",
        "en": "Edit each area's hours and holiday rule here; the next call keeps them (the closed "
        "message and voicemail callbacks too). Reset goes back to the hotline config's hours.",
    },
    "hours_format": {
        "zh": "每天填写时间段，如 09:00-12:00, 13:00-21:00；留空表示不服务；跨夜请在 24:00 结束，"
        "次日从 00:00 接续。",
        "en": "Type each day's ranges, such as 09:00-12:00, 13:00-21:00; empty means closed. "
        "Past midnight, end at 24:00 and go on from 00:00 the next day.",
    },
    "hours_from_config": {"zh": "使用配置文件中的时间", "en": "From the hotline config"},
    "hours_edited": {"zh": "{who} 修改于 {when}", "en": "Edited by {who} at {when}"},
    "hours_reset": {"zh": "恢复默认", "en": "Reset to the config's hours"},
    "holidays": {"zh": "节假日", "en": "Holidays"},
    "holiday_rule": {"zh": "节假日安排", "en": "Holiday rule"},
    "on_holidays": {"zh": "法定节假日", "en": "On public holidays"},
    "holiday_closed": {"zh": "不服务", "en": "closed"},
    "holiday_weekly": {"zh": "照常（按每周时间）", "en": "as usual (weekly hours)"},
    "holiday_special": {"zh": "特别时间", "en": "special hours"},
    "holiday_hours": {"zh": "节假日时间", "en": "Holiday hours"},
    "on_makeup": {"zh": "调休上班日", "en": "On make-up working days"},
    "makeup_weekly": {"zh": "按当天星期的时间", "en": "that weekday's hours"},
    "makeup_as": {"zh": "按{day}的时间", "en": "{day}'s hours"},
    "coming_holidays": {
        "zh": "未来{days}天的法定节假日与调休上班日",
        "en": "Public holidays and make-up working days, next {days} days",
    },
    "no_holidays": {
        "zh": "未来{days}天没有已知的法定节假日或调休上班日。",
        "en": "No known public holidays or make-up working days in the next {days} days.",
    },
    "calendar_warning": {
        "zh": "节假日数据只到{year}年底：之后的日期按每周时间服务，"
        "直到更新 chinese-calendar 程序包。",
        "en": "Holiday data ends with {year}: later dates follow the weekly hours until the "
        "chinese-calendar package is updated.",
    },
    "date": {"zh": "日期", "en": "Date"},
    "kind": {"zh": "类型", "en": "Kind"},
    "holiday_name": {"zh": "节日", "en": "Holiday"},
    "kind_holiday": {"zh": "法定节假日", "en": "public holiday"},
    "kind_makeup": {"zh": "调休上班", "en": "make-up working day"},
    "when": {"zh": "时间", "en": "When"},
    "who": {"zh": "操作人", "en": "Who"},
    "action": {"zh": "操作", "en": "Action"},
    "target": {"zh": "对象", "en": "Target"},
    "before": {"zh": "修改前", "en": "Before"},
    "after": {"zh": "修改后", "en": "After"},
    "role": {"zh": "角色", "en": "Role"},
    "saved": {"zh": "已保存。", "en": "Saved."},
    "none": {"zh": "无", "en": "none"},
    "callback": {"zh": "回拨", "en": "callback"},
    "trigger": {"zh": "触发", "en": "Trigger"},
    "outcome": {"zh": "结果", "en": "Outcome"},
    "switch": {"zh": "English", "en": "中文"},
    "safety": {"zh": "拦截与紧急停线", "en": "Blocklist & closure"},
    "blocklist": {"zh": "来电拦截名单", "en": "Caller blocklist"},
    "blocklist_help": {
        "zh": "被拦截的号码只听到一句话，按9仍可进入危机通道，随后挂断。号码只显示部分。",
        "en": "A blocked number hears one sentence (9 still reaches the crisis path), then the "
        "line closes. Numbers are shown masked.",
    },
    "blocklist_empty": {"zh": "没有被拦截的号码。", "en": "No blocked numbers."},
    "reason": {"zh": "原因", "en": "Reason"},
    "block": {"zh": "拦截", "en": "Block"},
    "unblock": {"zh": "解除拦截", "en": "Unblock"},
    "closure": {"zh": "紧急停线", "en": "Emergency closure"},
    "closure_help": {
        "zh": "停线期间所有来电者都会听到这段话和危险按键提示；留空则使用默认语句。",
        "en": "While closed every caller hears this message and the danger key; leave a "
        "language empty for the default sentence.",
    },
    "closure_none": {"zh": "热线正常服务，未设置紧急停线。", "en": "No emergency closure is set."},
    "closure_active": {"zh": "紧急停线生效中", "en": "Emergency closure in force"},
    "closure_ended": {"zh": "紧急停线已到期", "en": "Emergency closure has ended"},
    "closure_message": {"zh": "停线提示语", "en": "Message"},
    "closure_default_message": {"zh": "（默认语句）", "en": "(default sentence)"},
    "closure_until": {"zh": "结束时间（可选）", "en": "Ends (optional)"},
    "closure_open_ended": {"zh": "直到手动恢复", "en": "until cleared"},
    "closure_ends": {"zh": "结束时间", "en": "Ends"},
    "closure_set": {"zh": "设置停线", "en": "Close the hotline"},
    "closure_clear": {"zh": "恢复服务", "en": "Reopen the hotline"},
    "voicemail": {"zh": "留言箱", "en": "Voicemail"},
    "recordings": {"zh": "通话录音", "en": "Recordings"},
    "rec_agent": {"zh": "坐席", "en": "Agent"},
    "rec_call": {"zh": "通话", "en": "Call"},
    "rec_all": {"zh": "全部录音", "en": "All recordings"},
    "rec_copies": {"zh": "加密副本", "en": "Encrypted copies"},
    "vm_caller": {"zh": "来电号码", "en": "Caller"},
    "vm_duration": {"zh": "时长", "en": "Length"},
    "vm_urgency": {"zh": "紧急度", "en": "Urgency"},
    "vm_urgent": {"zh": "紧急", "en": "urgent"},
    "vm_crisis": {"zh": "危机", "en": "crisis"},
    "vm_state": {"zh": "状态", "en": "State"},
    "vm_listen": {"zh": "收听（留痕）", "en": "Listen (audited)"},
    "vm_close": {"zh": "关闭留言", "en": "Close"},
    "vm_reason": {"zh": "关闭原因（可选）", "en": "Reason (optional)"},
    "vm_closed": {"zh": "留言已关闭。", "en": "Message closed."},
    "vm_already_closed": {"zh": "该留言此前已关闭。", "en": "That message was already closed."},
    "vm_closed_state": {"zh": "已关闭", "en": "closed"},
    "vm_withheld": {"zh": "号码未显示", "en": "number withheld"},
    "vm_show_closed": {"zh": "显示已关闭的留言", "en": "Show closed messages too"},
    "vm_open_only": {"zh": "只看未关闭的留言", "en": "Open messages only"},
    "satisfaction": {"zh": "今日满意率", "en": "Satisfied today"},
    "rated_calls": {"zh": "评价 {n} 次", "en": "{n} rated"},
    "followups": {"zh": "不满意回访", "en": "Follow-ups"},
    "followups_open": {"zh": "待回访", "en": "Follow-ups open"},
    "fu_help": {
        "zh": "来电者在通话后按2表示不满意，或咨询员标记为需回访：热线会自动安排回电任务，"
        "接通后自动完成。列表中号码只显示部分；点“查看号码”显示完整号码，每次查看都记入审计日志。"
        "手动完成回访会撤回尚未拨出的回电任务。",
        "en": "Callers who pressed 2 (unsatisfied) after their call, or whose call was marked "
        "for a follow-up, are called back by a callback task, closed by itself once the caller "
        "is reached. Numbers are masked here; “Show number” shows one, and every showing is "
        "audited. Closing one by hand withdraws a callback not yet dialled.",
    },
    "fu_task": {"zh": "回电任务", "en": "Callback task"},
    "fu_task_waiting": {"zh": "等待接听人员", "en": "waiting"},
    "fu_task_ringing": {"zh": "正在拨打", "en": "ringing"},
    "fu_task_done": {"zh": "已接通", "en": "done"},
    "fu_task_unreached": {"zh": "多次未接通", "en": "unreached"},
    "fu_task_withdrawn": {"zh": "已撤回", "en": "withdrawn"},
    "fu_task_no-number": {"zh": "号码未显示，无法回电", "en": "number withheld: no callback"},
    "fu_task_": {"zh": "未安排", "en": "not scheduled"},
    "fu_reason_rating": {"zh": "不满意", "en": "unsatisfied"},
    "fu_reason_outcome": {"zh": "需回访", "en": "follow-up needed"},
    "fu_caller": {"zh": "来电号码", "en": "Caller"},
    "fu_show_number": {"zh": "查看号码", "en": "Show number"},
    "fu_number": {"zh": "回电号码", "en": "Number to call back"},
    "fu_note": {"zh": "处理说明（必填）", "en": "What was done (required)"},
    "fu_close": {"zh": "完成回访", "en": "Close"},
    "fu_closed": {"zh": "回访已完成。", "en": "Follow-up closed."},
    "fu_already_closed": {"zh": "该回访此前已完成。", "en": "That follow-up was already closed."},
    "fu_closed_state": {"zh": "已完成", "en": "closed"},
    "fu_open_state": {"zh": "待回访", "en": "open"},
    "fu_show_closed": {"zh": "显示已完成的回访", "en": "Show closed follow-ups too"},
    "fu_open_only": {"zh": "只看待回访", "en": "Open follow-ups only"},
    "fu_back": {"zh": "返回回访列表", "en": "Back to follow-ups"},
    "call": {"zh": "来电", "en": "Call"},
    "conditions": {"zh": "当前无法兑现的承诺", "en": "Promises not kept right now"},
    "conditions_help": {
        "zh": "系统每分钟自检一次；问题解决后此处自动消除。运行 hotline doctor 可立即检查。",
        "en": "The hotline checks itself every minute; each line clears itself once it holds "
        "again. Run hotline doctor to check now.",
    },
    "since": {"zh": "始于", "en": "since"},
    # Quiet notices about live calls (queues.notices): shown, never paged.
    "notices": {"zh": "请留意的通话", "en": "Calls to look at"},
    "notices_help": {
        "zh": "仅供主管留意，不会发送短信；通话结束后自动消除。",
        "en": "For supervisors to look at, nobody is paged; each clears itself when its call ends.",
    },
    "notice_sustained_top": {
        "zh": "来电者情绪持续处于最高级",
        "en": "Caller at the thermometer's top level for a long while",
    },
    # Reports (ops.reports): the page, its form and charts, and every figure (docs/reports.md).
    "reports": {"zh": "报表", "en": "Reports"},
    "report_from": {"zh": "起始日期", "en": "From"},
    "report_to": {"zh": "截止日期", "en": "To"},
    "all_areas": {"zh": "全部领域", "en": "All areas"},
    "report_by": {"zh": "分组", "en": "By"},
    "by_half_hour": {"zh": "每半小时", "en": "Half-hour"},
    "by_hour": {"zh": "每小时", "en": "Hour"},
    "by_day": {"zh": "每天", "en": "Day"},
    "by_week": {"zh": "每周", "en": "Week"},
    "by_agent": {"zh": "坐席", "en": "Agent"},
    "by_area": {"zh": "领域", "en": "Area"},
    "show": {"zh": "查看", "en": "Show"},
    "download_csv": {"zh": "下载 CSV", "en": "Download CSV"},
    "report_period": {
        "zh": "{first} 至 {last}（{zone} 时间，含首尾两天）",
        "en": "{first} to {last} ({zone} time, both days included)",
    },
    "service_level_rule": {
        "zh": "服务水平：{seconds} 秒内接通",
        "en": "Service level: answered within {seconds} s",
    },
    "chart_volume": {"zh": "进入队列与接通的来电", "en": "Calls offered and answered"},
    "chart_service": {
        "zh": "服务水平（{seconds} 秒内接通，%）",
        "en": "Service level (answered within {seconds} s, %)",
    },
    "report_buckets": {"zh": "分组数据", "en": "By bucket"},
    "report_by_time": {"zh": "时段", "en": "Period"},
    "report_by_agent": {"zh": "坐席", "en": "Agent"},
    "report_by_area": {"zh": "领域", "en": "Area"},
    "report_agents": {"zh": "坐席", "en": "Agents"},
    "report_total": {"zh": "全部指标（合计）", "en": "Every figure (total)"},
    "not_recorded": {
        "zh": "“—”：无可计算的来电，或通话记录尚未保存该信息。",
        "en": "“—”: no calls to compute it from, or the call records do not keep that fact yet.",
    },
    "fig_arrived": {"zh": "来电总数", "en": "Calls arrived"},
    "fig_offered": {"zh": "进入队列", "en": "Offered"},
    "fig_answered": {"zh": "已接通", "en": "Answered"},
    "fig_answer_rate": {"zh": "接通率", "en": "Answer rate"},
    "fig_service_level": {"zh": "服务水平", "en": "Service level"},
    "fig_abandoned": {"zh": "放弃", "en": "Abandoned"},
    "fig_short_abandoned": {"zh": "短时放弃", "en": "Short abandons"},
    "fig_abandon_rate": {"zh": "放弃率", "en": "Abandon rate"},
    "fig_asa_s": {"zh": "平均应答速度（秒）", "en": "Average speed of answer (s)"},
    "fig_wait_p50_s": {"zh": "等待 p50（秒）", "en": "Wait p50 (s)"},
    "fig_wait_p90_s": {"zh": "等待 p90（秒）", "en": "Wait p90 (s)"},
    "fig_wait_max_s": {"zh": "最长等待（秒）", "en": "Longest wait (s)"},
    "fig_talk_mean_s": {"zh": "平均通话（秒）", "en": "Mean talk (s)"},
    "fig_wrap_up_mean_s": {"zh": "平均话后处理（秒）", "en": "Mean wrap-up (s)"},
    "fig_callbacks_requested": {"zh": "回拨请求", "en": "Callbacks requested"},
    "fig_callbacks_completed": {"zh": "回拨完成", "en": "Callbacks completed"},
    "fig_voicemails_left": {"zh": "留言", "en": "Voicemails left"},
    "fig_voicemails_called_back": {"zh": "留言已回电", "en": "Voicemails called back"},
    "fig_voicemail_callback_mean_s": {
        "zh": "留言回电平均用时（秒）",
        "en": "Mean time to call back (s)",
    },
    "fig_rated": {"zh": "评价数", "en": "Rated"},
    "fig_satisfied_share": {"zh": "满意占比", "en": "Satisfied"},
    "fig_followups_opened": {"zh": "需跟进（不满意）", "en": "Follow-ups opened"},
    "fig_followups_closed": {"zh": "跟进已完成", "en": "Follow-ups closed"},
    "fig_crisis_triggers": {"zh": "危机触发", "en": "Crisis triggers"},
    "fig_crisis_to_human_p50_s": {"zh": "危机转人工 p50（秒）", "en": "Crisis to a person p50 (s)"},
    "fig_crisis_to_human_max_s": {
        "zh": "危机转人工最长（秒）",
        "en": "Crisis to a person, longest (s)",
    },
    "fig_crisis_rollovers": {"zh": "危机顺延", "en": "Crisis rollovers"},
    "fig_handled": {"zh": "处理来电", "en": "Handled"},
    "fig_heavy_calls": {"zh": "沉重来电", "en": "Heavy calls"},
    "fig_occupancy": {"zh": "占用率", "en": "Occupancy"},
    # A person's data (PIPL): export and erase one number; legal holds on incidents.
    "person_data": {"zh": "个人信息", "en": "Person's data"},
    "pd_help": {
        "zh": "依《个人信息保护法》，可导出或删除本热线保存的某一号码的全部信息"
        "（来电、备注、评价与回访、留言及录音、危机事件）。号码只在此表单中输入，"
        "不会出现在网址中；每次导出和删除都记入审计日志。"
        "处于法律保全的危机事件不会被删除。",
        "en": "Under China's PIPL, export or erase everything the hotline keeps about one number "
        "(calls, notes, ratings and follow-ups, voicemail and recordings, crisis incidents). The "
        "number is typed here, never put in a web address; every export and erasure is audited. "
        "Incidents under legal hold are kept.",
    },
    "pd_number": {
        "zh": "号码（E.164，如 +8613812345678）",
        "en": "Number (E.164, e.g. +8613812345678)",
    },
    "pd_reason": {
        "zh": "原因（必填：申请人、日期、编号）",
        "en": "Reason (required: request, date, reference)",
    },
    "pd_export": {"zh": "导出（zip）", "en": "Export (zip)"},
    "pd_export_json": {"zh": "仅导出 JSON", "en": "Export JSON only"},
    "pd_erase_title": {"zh": "删除", "en": "Erase"},
    "pd_confirm": {"zh": "确认：输入号码后四位", "en": "Confirm: the number's last four digits"},
    "pd_erase": {"zh": "删除该号码的全部信息", "en": "Erase everything about this number"},
    "pd_erased": {"zh": "已删除", "en": "Erased"},
    "pd_kept": {"zh": "保留", "en": "Kept"},
    "pd_not_erased": {"zh": "不在删除范围内", "en": "Not erased here"},
    "pd_place": {"zh": "位置", "en": "Place"},
    "pd_count": {"zh": "条数", "en": "Items"},
    "pd_legal_hold": {"zh": "法律保全", "en": "Legal hold"},
    "pd_hold": {"zh": "设为法律保全", "en": "Put under legal hold"},
    "pd_hold_reason": {"zh": "保全原因", "en": "Why it must be kept"},
    "pd_lift": {"zh": "解除保全", "en": "Lift the hold"},
    "pd_held": {"zh": "该事件已设为法律保全。", "en": "The incident is under legal hold."},
    "pd_lifted": {"zh": "法律保全已解除。", "en": "The legal hold is lifted."},
    "pd_not_held": {
        "zh": "该事件未处于法律保全。",
        "en": "That incident was not under legal hold.",
    },
    "pd_not_erased_help": {
        "zh": "审计日志（只有部分号码）保留，它也记录本次操作；事件流只有通话编号和部分号码，"
        "约20万条后滚动删除；危机提醒（无号码）7天后过期；Twilio 的通话记录需向 Twilio 申请删除。",
        "en": "The audit log (numbers only masked) is kept: it records this erasure too. The event "
        "stream keeps call ids and masked numbers until it rolls over (about 200,000 events); "
        "crisis alerts (no number) expire after 7 days; Twilio's own call records must be "
        "erased by asking Twilio.",
    },
}

# What each standing condition (queues.conditions) means, for the wallboard; its detail line
# is shown as raised.
CONDITION_WORDS: dict[str, dict[str, str]] = {
    "carrier_unreachable": {
        "zh": "无法连接电话运营商（Twilio）",
        "en": "The carrier (Twilio) is unreachable",
    },
    "self_check:supervisor_on_call": {
        "zh": "未来24小时内有时段无主管值班",
        "en": "No supervisor on call in some hour of the next 24 h",
    },
    "self_check:crisis_agent_on_shift": {
        "zh": "有服务开放时段无危机培训坐席在班",
        "en": "No crisis-trained agent on shift while an area is open",
    },
    "self_check:crisis_numbers": {"zh": "缺少危机热线号码", "en": "Crisis numbers missing"},
    "self_check:carrier": {
        "zh": "电话运营商（Twilio）接口无响应",
        "en": "The carrier's (Twilio's) REST API does not answer",
    },
    "self_check:workers": {
        "zh": "后台任务进程无心跳，任务无人执行",
        "en": "No live worker: jobs are not being run",
    },
    "self_check:queue_waits": {"zh": "后台任务等待过久", "en": "Jobs waiting too long"},
    "recording_not_stored": {
        "zh": "通话录音未能保存，Twilio 上的副本保留",
        "en": "A call recording could not be stored; Twilio's copy is kept",
    },
    "self_check:redis_persistence": {
        "zh": "Redis 未开启持久化，重启会丢失数据",
        "en": "Redis keeps nothing over a restart",
    },
    "self_check:holiday_data": {
        "zh": "节假日数据未覆盖未来90天",
        "en": "Holiday data does not cover the next 90 days",
    },
}

DAY_NAMES = {
    "zh": ("周一", "周二", "周三", "周四", "周五", "周六", "周日"),
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}


def current_language() -> str:
    """The page language: the one chosen with the switch, else the browser's, else Mandarin."""
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    best = request.accept_languages.best_match(LANGUAGES)
    return best or LANGUAGES[0]


# The desk's words for how an offer ended, beside WORDS' ringing, accepted and finished.
CALL_STATE_WORDS = {
    "caller-gone": {"zh": "来电者已挂机", "en": "The caller hung up"},
    "caller-no-answer": {"zh": "来电者未接听回电", "en": "The caller did not answer the callback"},
    "agent-left": {
        "zh": "来电者接听前您已挂断，回电已重新排队",
        "en": "You hung up before the caller answered; the callback is back in line",
    },
    "not-rung": {"zh": "未能呼叫您的电话", "en": "Your phone could not be rung"},
    "not-joined": {
        "zh": "您未加入通话，来电者已重新排队",
        "en": "You did not join; the caller is waiting again",
    },
    "declined": {"zh": "已拒绝", "en": "Declined"},
    "no-answer": {"zh": "未接听", "en": "Not answered"},
    "busy": {"zh": "您的电话占线", "en": "Your phone was busy"},
    "timeout": {"zh": "振铃超时", "en": "The offer timed out"},
}


def call_state(state: str) -> str:
    """The desk's words for an offer's state in the page language; the state when it has none."""
    if state in CALL_STATE_WORDS:
        return word_of(CALL_STATE_WORDS, state)
    if state in ("ringing", "accepted", "finished"):
        return word(state)
    return state


def word(key: str, **fields: object) -> str:
    """A console word in the page language."""
    return word_of(WORDS, key, **fields)


def word_of(words: dict[str, dict[str, str]], key: str, **fields: object) -> str:
    """A word of a feature's own table in the page language, its fields filled in."""
    text = words[key][current_language()]
    return text.format(**fields) if fields else text


def condition_label(name: str) -> dict[str, str]:
    """A standing condition's label in each language; its name when it has none."""
    return CONDITION_WORDS.get(name, {language: name for language in LANGUAGES})

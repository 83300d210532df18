"""The one message catalogue: every user-facing string of the pages, keyed by language.

`zh` is complete. `mn` (traditional Mongolian script, Inner Mongolia) covers everything the
village page shows (`VILLAGE_PREFIXES`); the lawyer page is Chinese only for now. The Mongolian
texts await review by a native speaker, like the topic names in `signaling/topics.py`.

Keys are `area.name`; `{name}` marks a placeholder the page fills in. Topic names come from the
topic catalogue as `topic.<slug>`, and every protocol error code has an `error.<code>` text that
says plainly what went wrong and what to do.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from signaling.topics import TOPICS

LANGUAGES: tuple[str, ...] = ("zh", "mn")
DEFAULT_LANGUAGE = "zh"
# What the village page uses: `mn` must have every one of these keys.
VILLAGE_PREFIXES: tuple[str, ...] = (
    "common.",
    "village.",
    "error.",
    "topic.",
    "lang.",
    "role.",
    "end.",
)
LAWYER_PREFIXES: tuple[str, ...] = (
    "common.",
    "lawyer.",
    "error.",
    "topic.",
    "lang.",
    "role.",
    "end.",
    "kind.",
    "withdrawn.",
    "time.",
)

_ZH: dict[str, str] = {
    "common.app_name": "远程法律服务",
    "common.connecting": "正在连接服务器…",
    "common.reconnecting": "网络断了一下，正在重新连接…",
    "common.peer_reconnecting": "对方的网络不稳定，正在重新连接，请稍候…",
    "common.video_connecting": "正在接通视频…",
    "common.in_call_with": "正在与{name}通话",
    "common.mute": "静音",
    "common.unmute": "取消静音",
    "common.camera_off": "关闭摄像头",
    "common.camera_on": "打开摄像头",
    "common.hang_up": "挂断",
    "common.tap_for_sound": "点这里打开声音",
    "common.you": "您自己",
    "common.error_title": "出了点问题",
    "common.start_over": "重新开始",
    "common.notice_close": "知道了",
    "lang.zh": "汉语",
    "lang.mn": "蒙古语",
    "role.lawyer": "律师",
    "role.mediator": "调解员",
    "role.village": "村法律服务室",
    "end.hang_up": "通话已挂断。",
    "end.cancelled": "这次咨询已取消。",
    "end.peer_gone": "对方的网络断开太久，通话结束了。",
    "end.abandoned": "等待时离开太久，排队已取消。",
    "end.server_shutdown": "服务器正在维护，通话结束了。请过一会儿再来。",
    "end.revoked": "这台终端或账号已被停用，通话结束了。请联系司法所。",
    "end.callback_missed": "回电几次都没有接通，请求已交给司法所工作人员跟进。",
    "village.title": "村法律服务室",
    "village.welcome": "您好！有法律问题，可以在这里和律师视频通话。",
    "village.choose_language": "请选择语言",
    "village.choose_topic": "请选择您要咨询的问题",
    "village.topic_goes_to": "将由{role}为您解答",
    "village.call": "开始视频咨询",
    "village.call_hint": "先点一个问题，再点这个绿色按钮",
    "village.preparing_camera": "正在打开摄像头…",
    "village.waiting_title": "正在为您联系{role}，请稍候",
    "village.topic_label": "咨询问题：{topic}",
    "village.position_next": "下一位就是您。",
    "village.position_ahead": "您前面还有 {ahead} 位。",
    "village.on_duty": "现在有 {n} 位{role}值班。",
    "village.all_busy": "{role}们都在通话，请耐心等候。",
    "village.none_on_duty": "现在没有{role}值班。您可以继续等候，也可以取消，过一会儿再来。",
    "village.ringing": "已经找到{role}，正在接通…",
    "village.your_picture": "这是您的画面",
    "village.cancel": "取消",
    "village.leave_callback": "不等了，请回电",
    "village.requeued": "刚才的{role}网络断开了，正在为您联系下一位{role}，您排在最前面",
    "village.phone_label": "电话号码（可以不填）",
    "village.callback_left": "已经登记。{role}有空时会打回这台终端，请留意。",
    "village.callback_suggested": "现在没有{role}值班。可以留下回电，{role}上班后会打回这台终端。",
    "village.document_on": "给{role}看文件",
    "village.document_off": "看完文件了",
    "village.document_hint": "请把文件放在摄像头前面，拿稳不动。",
    "village.ended_title": "通话结束了",
    "village.ended_thanks": "谢谢您的使用。还有问题，可以再次咨询。",
    "village.back_home": "返回首页",
    "lawyer.title": "律师工作台",
    "lawyer.signed_in_as": "当前账号：{name}",
    "lawyer.off_duty_title": "您现在没有值班",
    "lawyer.off_duty_hint": "开始值班后，村法律服务室的咨询请求会出现在这里。",
    "lawyer.go_on_duty": "开始值班",
    "lawyer.go_off_duty": "结束值班",
    "lawyer.on_duty_title": "正在值班",
    "lawyer.badge_on": "值班中",
    "lawyer.badge_off": "未值班",
    "lawyer.on_duty_hint": "有咨询请求时会在这里提示，请留意。",
    "lawyer.incoming_title": "新的咨询请求",
    "lawyer.field_topic": "问题",
    "lawyer.field_kind": "类型",
    "lawyer.field_language": "语言",
    "lawyer.field_village": "来自",
    "lawyer.field_waited": "已等待",
    "lawyer.accept": "接听",
    "lawyer.decline": "拒绝",
    "lawyer.fullscreen": "全屏",
    "lawyer.exit_fullscreen": "退出全屏",
    "lawyer.call_ended": "通话已结束：{reason}",
    "kind.consultation": "法律咨询",
    "kind.mediation": "纠纷调解",
    "withdrawn.declined": "您已拒绝这个请求，它会转给其他人。",
    "withdrawn.timeout": "请求在规定时间内没有接听，已转给其他人。",
    "withdrawn.cancelled": "对方已取消这个请求。",
    "withdrawn.abandoned": "对方已经离开，请求已撤回。",
    "withdrawn.off_duty": "您已结束值班，请求已转给其他人。",
    "withdrawn.disconnected": "您的网络断开了，请求已转给其他人。",
    "withdrawn.answered_elsewhere": "您已在另一台设备上接听这个请求。",
    "withdrawn.terminal_away": "村里的终端现在不在线或正在通话，稍后会再回电。",
    "lawyer.callback": "这是一个回电请求：接听后会回拨村里的终端。",
    "lawyer.callback_phone": "这是一个回电请求：接听后会回拨村里的终端。村民留的电话：{phone}",
    "time.just_now": "刚刚",
    "time.seconds": "{s} 秒",
    "time.minutes": "{m} 分 {s} 秒",
    "time.hours": "{h} 小时 {m} 分",
    "index.title": "远程法律服务",
    "index.intro": "请选择要打开的页面：",
    "index.village": "村法律服务室终端",
    "index.lawyer": "律师工作台",
    "index.demo_note": (
        "演示模式：律师 lawyer-1、lawyer-2，调解员 mediator-1，管理员 supervisor，"
        "密码都是账号名加“-password”（例如 lawyer-1-password）。"
        "村终端可以点上面的演示终端直接使用。"
    ),
    "index.not_set_up": (
        "账号还没有设置，页面无法登录。要试用，请用 lawroom serve --demo 启动服务器，使用演示账号。"
    ),
    "index.unknown_identity": "没有这个演示账号：{identity}。可以使用的有：{known}。",
    "error.media": (
        "打不开摄像头或麦克风。请检查摄像头有没有插好、是不是被别的程序占用，"
        "并允许浏览器使用摄像头和麦克风。请点下面的“重新开始”。"
    ),
    "error.unsupported_browser": "这个浏览器不能视频通话。请用最新版的 Chrome 浏览器打开这个页面。",
    "error.connection_lost": (
        "网络断开了，没能重新连上。请检查网线或无线网络，然后点下面的“重新开始”。"
    ),
    "error.displaced": "这个页面在另一个窗口里打开了。请关掉多余的窗口，然后点下面的“重新开始”。",
    "error.protocol": (
        "页面和服务器对不上，可能是服务器刚刚升级。请点下面的“重新开始”。如果还不行，请联系管理员。"
    ),
    "error.invalid_json": (
        "页面发出的消息服务器看不懂。请点下面的“重新开始”。如果反复出现，请联系管理员。"
    ),
    "error.invalid_format": (
        "页面发出的消息格式不对。请点下面的“重新开始”。如果反复出现，请联系管理员。"
    ),
    "error.unknown_type": (
        "页面发出了服务器不认识的消息，可能是服务器刚刚升级。请点下面的“重新开始”。"
    ),
    "error.unsupported_version": "页面版本太旧，和服务器不一致。请点下面的“重新开始”。",
    "error.message_too_large": "发出的内容太大，服务器没有接收。请点下面的“重新开始”。",
    "error.rate_limited": "操作太快了。请等几秒钟再试。",
    "error.not_authenticated": "还没有登录，或者登录已经过期。请点下面的“重新开始”。",
    "error.already_authenticated": "已经登录过了，页面状态有些混乱。请点下面的“重新开始”。",
    "error.bad_credentials": "这台终端的账号或密码不对，无法登录。请联系管理员检查账号设置。",
    "error.forbidden": (
        "这个账号不能做这个操作。请确认打开的是正确的页面（村法律服务室或律师工作台）。"
    ),
    "error.invalid_state": (
        "现在不能这样操作，可能对方刚刚挂断或请求已经被处理。请稍等一下；如果页面没有变化，"
        "请点下面的“重新开始”。"
    ),
    "error.not_found": "找不到这次咨询，它可能已经结束了。请点下面的“重新开始”。",
    "error.resume_failed": (
        "离开的时间太长，之前的排队或通话已经结束了。请点下面的“重新开始”，再呼叫一次。"
    ),
    "error.hello_timeout": "连接服务器太慢，超时了。请检查网络，然后点下面的“重新开始”。",
    "error.internal_error": (
        "服务器出了故障，已经记录下来。请过一会儿点下面的“重新开始”再试；如果还不行，请联系管理员。"
    ),
}

# Traditional Mongolian (vertical script); the village page's strings and nothing more yet.
_MN: dict[str, str] = {
    "common.app_name": "ᠠᠯᠤᠰ ᠤᠨ ᠬᠠᠤᠯᠢ ᠶᠢᠨ ᠦᠢᠯᠡᠴᠢᠯᠡᠭᠡ",
    "common.connecting": "ᠰᠸᠷᠸᠷ ᠲᠡᠢ ᠵᠠᠯᠭᠠᠵᠤ ᠪᠠᠢᠨ᠎ᠠ…",
    "common.reconnecting": "ᠰᠦᠯᠵᠢᠶ᠎ᠡ ᠲᠠᠰᠤᠷᠠᠪᠠ᠂ ᠳᠠᠬᠢᠨ ᠵᠠᠯᠭᠠᠵᠤ ᠪᠠᠢᠨ᠎ᠠ…",
    "common.peer_reconnecting": "ᠨᠥᠭᠥᠭᠡ ᠲᠠᠯ᠎ᠠ ᠶᠢᠨ ᠰᠦᠯᠵᠢᠶ᠎ᠡ ᠲᠣᠭᠲᠠᠪᠤᠷᠢ ᠦᠭᠡᠢ᠂ ᠲᠦᠷ ᠬᠦᠯᠢᠶᠡᠭᠡᠷᠡᠢ…",
    "common.video_connecting": "ᠸᠢᠳᠢᠣ ᠵᠠᠯᠭᠠᠵᠤ ᠪᠠᠢᠨ᠎ᠠ…",
    "common.in_call_with": "{name} ᠲᠠᠢ ᠶᠠᠷᠢᠯᠴᠠᠵᠤ ᠪᠠᠢᠨ᠎ᠠ",
    "common.mute": "ᠳᠠᠭᠤ ᠬᠠᠭᠠᠬᠤ",
    "common.unmute": "ᠳᠠᠭᠤ ᠨᠡᠭᠡᠭᠡᠬᠦ",
    "common.camera_off": "ᠺᠠᠮᠸᠷ᠎ᠠ ᠬᠠᠭᠠᠬᠤ",
    "common.camera_on": "ᠺᠠᠮᠸᠷ᠎ᠠ ᠨᠡᠭᠡᠭᠡᠬᠦ",
    "common.hang_up": "ᠲᠠᠰᠤᠯᠬᠤ",
    "common.tap_for_sound": "ᠳᠠᠭᠤ ᠨᠡᠭᠡᠭᠡᠬᠦ ᠪᠣᠯ ᠡᠨᠳᠡ ᠳᠠᠷᠤᠭᠠᠷᠠᠢ",
    "common.you": "ᠲᠠ ᠥᠪᠡᠷ",
    "common.error_title": "ᠠᠯᠳᠠᠭ᠎ᠠ ᠭᠠᠷᠪᠠ",
    "common.start_over": "ᠳᠠᠬᠢᠨ ᠡᠬᠢᠯᠡᠬᠦ",
    "common.notice_close": "ᠮᠡᠳᠡᠯ᠎ᠡ",
    "lang.zh": "ᠬᠢᠲᠠᠳ ᠬᠡᠯᠡ",
    "lang.mn": "ᠮᠣᠩᠭᠣᠯ ᠬᠡᠯᠡ",
    "role.lawyer": "ᠬᠠᠤᠯᠢᠴᠢ",
    "role.mediator": "ᠡᠪᠯᠡᠷᠡᠭᠦᠯᠦᠭᠴᠢ",
    "role.village": "ᠳᠣᠭᠣᠶᠢᠩ ᠤᠨ ᠬᠠᠤᠯᠢ ᠶᠢᠨ ᠦᠢᠯᠡᠴᠢᠯᠡᠭᠡ ᠶᠢᠨ ᠭᠡᠷ",
    "end.hang_up": "ᠶᠠᠷᠢᠯᠴᠠᠭ᠎ᠠ ᠲᠠᠰᠤᠯᠪᠠ᠃",
    "end.cancelled": "ᠡᠨᠡ ᠤᠳᠠᠭᠠᠨ ᠤ ᠵᠥᠪᠯᠡᠭᠡ ᠶᠢ ᠦᠭᠡᠢᠰᠭᠡᠪᠡ᠃",
    "end.peer_gone": "ᠨᠥᠭᠥᠭᠡ ᠲᠠᠯ᠎ᠠ ᠶᠢᠨ ᠰᠦᠯᠵᠢᠶ᠎ᠡ ᠤᠳᠠᠭ᠎ᠠ ᠲᠠᠰᠤᠷᠠᠭᠰᠠᠨ ᠤ ᠲᠤᠯᠠ ᠶᠠᠷᠢᠯᠴᠠᠭ᠎ᠠ ᠳᠠᠭᠤᠰᠪᠠ᠃",
    "end.abandoned": "ᠤᠳᠠᠭ᠎ᠠ ᠬᠥᠨᠳᠡᠢᠷᠡᠭᠰᠡᠨ ᠤ ᠲᠤᠯᠠ ᠡᠭᠦᠷᠭᠡ ᠦᠭᠡᠢᠰᠦᠪᠡ᠃",
    "end.server_shutdown": "ᠰᠸᠷᠸᠷ ᠢ ᠵᠠᠰᠠᠵᠤ ᠪᠠᠢᠨ᠎ᠠ᠃ ᠲᠦᠷ ᠬᠦᠯᠢᠶᠡᠭᠡᠳ ᠳᠠᠬᠢᠨ ᠢᠷᠡᠭᠡᠷᠡᠢ᠃",
    "end.revoked": "ᠡᠷᠬᠡ ᠶᠢ ᠬᠠᠰᠤᠭᠰᠠᠨ ᠤ ᠲᠤᠯᠠ ᠶᠠᠷᠢᠯᠴᠠᠭ᠎ᠠ ᠳᠠᠭᠤᠰᠪᠠ᠃",
    # Callback texts: to be reviewed by a native speaker (written from the terms above).
    "end.callback_missed": "ᠡᠷᠭᠢᠭᠦᠯᠦᠨ ᠤᠲᠠᠰᠤᠳᠠᠭᠰᠠᠨ ᠪᠣᠯᠪᠠᠴᠤ ᠬᠣᠯᠪᠣᠭᠳᠠᠭᠰᠠᠨ ᠦᠭᠡᠢ᠃",
    "village.title": "ᠳᠣᠭᠣᠶᠢᠩ ᠤᠨ ᠬᠠᠤᠯᠢ ᠶᠢᠨ ᠦᠢᠯᠡᠴᠢᠯᠡᠭᠡ ᠶᠢᠨ ᠭᠡᠷ",
    "village.welcome": (
        "ᠰᠠᠢᠨ ᠪᠠᠢᠨ᠎ᠠ ᠤᠤ! ᠬᠠᠤᠯᠢ ᠶᠢᠨ ᠠᠰᠠᠭᠤᠳᠠᠯ ᠲᠠᠢ ᠪᠣᠯ ᠡᠨᠳᠡ ᠬᠠᠤᠯᠢᠴᠢ ᠲᠠᠢ ᠸᠢᠳᠢᠣ ᠪᠠᠷ ᠶᠠᠷᠢᠯᠴᠠᠵᠤ ᠪᠣᠯᠣᠨ᠎ᠠ᠃"
    ),
    "village.choose_language": "ᠬᠡᠯᠡ ᠪᠡᠨ ᠰᠣᠩᠭᠣᠭᠠᠷᠠᠢ",
    "village.choose_topic": "ᠠᠰᠠᠭᠤᠬᠤ ᠠᠰᠠᠭᠤᠳᠠᠯ ᠢᠶᠠᠨ ᠰᠣᠩᠭᠣᠭᠠᠷᠠᠢ",
    "village.topic_goes_to": "{role} ᠲᠠᠨ ᠳᠤ ᠬᠠᠷᠢᠭᠤᠯᠲᠠ ᠥᠭᠭᠦᠨ᠎ᠡ",
    "village.call": "ᠸᠢᠳᠢᠣ ᠵᠥᠪᠯᠡᠭᠡ ᠡᠬᠢᠯᠡᠬᠦ",
    "village.call_hint": "ᠡᠬᠢᠯᠡᠭᠡᠳ ᠠᠰᠠᠭᠤᠳᠠᠯ ᠰᠣᠩᠭᠣᠭᠠᠳ᠂ ᠳᠠᠷᠠᠭ᠎ᠠ ᠨᠢ ᠨᠣᠭᠣᠭᠠᠨ ᠲᠣᠪᠴᠢ ᠶᠢ ᠳᠠᠷᠤᠭᠠᠷᠠᠢ",
    "village.preparing_camera": "ᠺᠠᠮᠸᠷ᠎ᠠ ᠨᠡᠭᠡᠭᠡᠵᠦ ᠪᠠᠢᠨ᠎ᠠ…",
    "village.waiting_title": "{role} ᠲᠠᠢ ᠬᠣᠯᠪᠣᠵᠤ ᠪᠠᠢᠨ᠎ᠠ᠂ ᠲᠦᠷ ᠬᠦᠯᠢᠶᠡᠭᠡᠷᠡᠢ",
    "village.topic_label": "ᠠᠰᠠᠭᠤᠳᠠᠯ᠄ {topic}",
    "village.position_next": "ᠳᠠᠷᠠᠭ᠎ᠠ ᠨᠢ ᠲᠠ᠃",
    "village.position_ahead": "ᠲᠠᠨ ᠤ ᠡᠮᠦᠨ᠎ᠡ {ahead} ᠬᠦᠮᠦᠨ ᠪᠠᠢᠨ᠎ᠠ᠃",
    "village.on_duty": "ᠣᠳᠣ {n} {role} ᠵᠢᠤᠤᠲᠤ ᠪᠠᠢᠨ᠎ᠠ᠃",
    "village.all_busy": "{role} ᠨᠠᠷ ᠪᠦᠭᠦᠳᠡ ᠶᠠᠷᠢᠯᠴᠠᠵᠤ ᠪᠠᠢᠨ᠎ᠠ᠂ ᠲᠦᠷ ᠬᠦᠯᠢᠶᠡᠭᠡᠷᠡᠢ᠃",
    "village.none_on_duty": (
        "ᠣᠳᠣ ᠵᠢᠤᠤᠲᠤ {role} ᠦᠭᠡᠢ᠃ ᠬᠦᠯᠢᠶᠡᠵᠦ ᠪᠣᠯᠣᠨ᠎ᠠ᠂ ᠡᠰᠡᠬᠦᠯ᠎ᠡ ᠦᠭᠡᠢᠰᠭᠡᠭᠡᠳ ᠳᠠᠷᠠᠭ᠎ᠠ ᠢᠷᠡᠵᠦ ᠪᠣᠯᠣᠨ᠎ᠠ᠃"
    ),
    "village.ringing": "{role} ᠢ ᠣᠯᠵᠤ᠂ ᠵᠠᠯᠭᠠᠵᠤ ᠪᠠᠢᠨ᠎ᠠ…",
    "village.your_picture": "ᠲᠠᠨ ᠤ ᠳᠦᠷᠰᠦ",
    "village.cancel": "ᠦᠭᠡᠢᠰᠭᠡᠬᠦ",
    "village.leave_callback": "ᠬᠦᠯᠢᠶᠡᠬᠦ ᠦᠭᠡᠢ᠂ ᠡᠷᠭᠢᠭᠦᠯᠦᠨ ᠤᠲᠠᠰᠤᠳᠠᠭᠠᠷᠠᠢ",
    "village.requeued": "{role} ᠤ ᠰᠦᠯᠵᠢᠶ᠎ᠡ ᠲᠠᠰᠤᠷᠠᠪᠠ᠂ ᠲᠠ ᠬᠠᠮᠤᠭ ᠤᠨ ᠡᠮᠦᠨ᠎ᠡ ᠬᠦᠯᠢᠶᠡᠵᠦ ᠪᠠᠢᠨ᠎ᠠ",
    "village.phone_label": "ᠤᠲᠠᠰᠤᠨ ᠤ ᠳᠤᠭᠠᠷ (ᠪᠢᠴᠢᠬᠦ ᠦᠭᠡᠢ ᠴᠦ ᠪᠣᠯᠣᠨ᠎ᠠ)",
    "village.callback_left": (
        "ᠪᠦᠷᠢᠳᠭᠡᠭᠰᠡᠨ᠃ {role} ᠴᠢᠯᠦᠭᠡᠲᠡᠢ ᠪᠣᠯᠤᠭᠰᠠᠨ ᠤ ᠳᠠᠷᠠᠭ᠎ᠠ ᠡᠨᠡ ᠲᠧᠷᠮᠢᠨᠠᠯ ᠳᠤ ᠡᠷᠭᠢᠭᠦᠯᠦᠨ ᠤᠲᠠᠰᠤᠳᠠᠨ᠎ᠠ᠃"
    ),
    "village.callback_suggested": "ᠣᠳᠣ ᠵᠢᠤᠤᠲᠤ {role} ᠦᠭᠡᠢ᠃ ᠡᠷᠭᠢᠭᠦᠯᠦᠨ ᠤᠲᠠᠰᠤᠳᠠᠬᠤ ᠶᠢ ᠰᠣᠩᠭᠣᠵᠤ ᠪᠣᠯᠣᠨ᠎ᠠ᠃",
    "village.document_on": "{role} ᠳᠤ ᠪᠢᠴᠢᠭ ᠪᠠᠷᠢᠮᠲᠠ ᠦᠵᠡᠭᠦᠯᠬᠦ",
    "village.document_off": "ᠪᠢᠴᠢᠭ ᠪᠠᠷᠢᠮᠲᠠ ᠦᠵᠡᠭᠦᠯᠵᠦ ᠳᠠᠭᠤᠰᠪᠠ",
    "village.document_hint": "ᠪᠢᠴᠢᠭ ᠪᠠᠷᠢᠮᠲᠠ ᠪᠠᠨ ᠺᠠᠮᠸᠷ᠎ᠠ ᠶᠢᠨ ᠡᠮᠦᠨ᠎ᠡ ᠬᠥᠳᠡᠯᠬᠡᠬᠦ ᠦᠭᠡᠢ ᠪᠠᠷᠢᠭᠠᠷᠠᠢ᠃",
    "village.ended_title": "ᠶᠠᠷᠢᠯᠴᠠᠭ᠎ᠠ ᠳᠠᠭᠤᠰᠪᠠ",
    "village.ended_thanks": "ᠪᠠᠶᠠᠷᠯᠠᠯ᠎ᠠ᠃ ᠠᠰᠠᠭᠤᠳᠠᠯ ᠪᠠᠢᠪᠠᠯ ᠳᠠᠬᠢᠨ ᠵᠥᠪᠯᠡᠭᠡ ᠠᠪᠴᠤ ᠪᠣᠯᠣᠨ᠎ᠠ᠃",
    "village.back_home": "ᠡᠬᠢᠨ ᠨᠢᠭᠤᠷ ᠲᠤ ᠪᠤᠴᠠᠬᠤ",
    "error.media": (
        "ᠺᠠᠮᠸᠷ᠎ᠠ ᠪᠤᠶᠤ ᠮᠢᠺᠷᠣᠹᠣᠨ ᠨᠡᠭᠡᠭᠡᠭᠳᠡᠬᠦ ᠦᠭᠡᠢ ᠪᠠᠢᠨ᠎ᠠ᠃ ᠺᠠᠮᠸᠷ᠎ᠠ ᠪᠠᠨ ᠰᠠᠢᠲᠤ ᠵᠠᠯᠭᠠᠭᠠᠳ᠂ ᠬᠡᠷᠡᠭᠯᠡᠬᠦ ᠶᠢ "
        "ᠵᠥᠪᠰᠢᠶᠡᠷᠡᠭᠡᠷᠡᠢ᠃ ᠳᠣᠣᠷ᠎ᠠ ᠬᠢ «ᠳᠠᠬᠢᠨ ᠡᠬᠢᠯᠡᠬᠦ» ᠶᠢ ᠳᠠᠷᠤᠭᠠᠷᠠᠢ᠃"
    ),
    "error.unsupported_browser": (
        "ᠡᠨᠡ ᠬᠠᠢᠭᠤᠷ ᠸᠢᠳᠢᠣ ᠶᠠᠷᠢᠯᠴᠠᠭ᠎ᠠ ᠬᠢᠬᠦ ᠦᠭᠡᠢ᠃ ᠱᠢᠨ᠎ᠡ Chrome ᠬᠠᠢᠭᠤᠷ ᠢ ᠬᠡᠷᠡᠭᠯᠡᠭᠡᠷᠡᠢ᠃"
    ),
    "error.connection_lost": (
        "ᠰᠦᠯᠵᠢᠶ᠎ᠡ ᠲᠠᠰᠤᠷᠠᠭᠠᠳ ᠳᠠᠬᠢᠨ ᠵᠠᠯᠭᠠᠭᠳᠠᠭᠰᠠᠨ ᠦᠭᠡᠢ᠃ ᠰᠦᠯᠵᠢᠶ᠎ᠡ ᠪᠡᠨ ᠰᠢᠯᠭᠠᠭᠠᠳ᠂ ᠳᠣᠣᠷ᠎ᠠ ᠬᠢ «ᠳᠠᠬᠢᠨ "
        "ᠡᠬᠢᠯᠡᠬᠦ» ᠶᠢ ᠳᠠᠷᠤᠭᠠᠷᠠᠢ᠃"
    ),
    "error.displaced": (
        "ᠡᠨᠡ ᠨᠢᠭᠤᠷ ᠥᠭᠡᠷ᠎ᠡ ᠴᠣᠩᠬᠣᠨ ᠳᠤ ᠨᠡᠭᠡᠭᠡᠭᠳᠡᠪᠡ᠃ ᠢᠯᠡᠭᠦᠦ ᠴᠣᠩᠬᠣ ᠶᠢ ᠬᠠᠭᠠᠭᠠᠳ᠂ ᠳᠣᠣᠷ᠎ᠠ ᠬᠢ «ᠳᠠᠬᠢᠨ ᠡᠬᠢᠯᠡᠬᠦ» "
        "ᠶᠢ ᠳᠠᠷᠤᠭᠠᠷᠠᠢ᠃"
    ),
    "error.protocol": (
        "ᠨᠢᠭᠤᠷ ᠪᠠ ᠰᠸᠷᠸᠷ ᠲᠣᠬᠢᠷᠠᠬᠤ ᠦᠭᠡᠢ ᠪᠠᠢᠨ᠎ᠠ᠃ ᠳᠣᠣᠷ᠎ᠠ ᠬᠢ «ᠳᠠᠬᠢᠨ ᠡᠬᠢᠯᠡᠬᠦ» ᠶᠢ ᠳᠠᠷᠤᠭᠠᠷᠠᠢ᠃"
    ),
    "error.invalid_json": (
        "ᠰᠸᠷᠸᠷ ᠮᠡᠳᠡᠭᠡ ᠶᠢ ᠤᠩᠰᠢᠵᠤ ᠴᠢᠳᠠᠭᠰᠠᠨ ᠦᠭᠡᠢ᠃ ᠳᠣᠣᠷ᠎ᠠ ᠬᠢ «ᠳᠠᠬᠢᠨ ᠡᠬᠢᠯᠡᠬᠦ» ᠶᠢ ᠳᠠᠷᠤᠭᠠᠷᠠᠢ᠃"
    ),
    "error.invalid_format": "ᠮᠡᠳᠡᠭᠡ ᠶᠢᠨ ᠬᠡᠯᠪᠡᠷᠢ ᠪᠤᠷᠤᠭᠤ᠃ ᠳᠣᠣᠷ᠎ᠠ ᠬᠢ «ᠳᠠᠬᠢᠨ ᠡᠬᠢᠯᠡᠬᠦ» ᠶᠢ ᠳᠠᠷᠤᠭᠠᠷᠠᠢ᠃",
    "error.unknown_type": (
        "ᠰᠸᠷᠸᠷ ᠡᠨᠡ ᠮᠡᠳᠡᠭᠡ ᠶᠢ ᠲᠠᠨᠢᠬᠤ ᠦᠭᠡᠢ᠃ ᠳᠣᠣᠷ᠎ᠠ ᠬᠢ «ᠳᠠᠬᠢᠨ ᠡᠬᠢᠯᠡᠬᠦ» ᠶᠢ ᠳᠠᠷᠤᠭᠠᠷᠠᠢ᠃"
    ),
    "error.unsupported_version": "ᠨᠢᠭᠤᠷ ᠤᠨ ᠬᠡᠪᠯᠡᠯ ᠬᠠᠭᠤᠴᠢᠨ᠃ ᠳᠣᠣᠷ᠎ᠠ ᠬᠢ «ᠳᠠᠬᠢᠨ ᠡᠬᠢᠯᠡᠬᠦ» ᠶᠢ ᠳᠠᠷᠤᠭᠠᠷᠠᠢ᠃",
    "error.message_too_large": "ᠮᠡᠳᠡᠭᠡ ᠬᠡᠲᠦᠷᠬᠡᠢ ᠶᠡᠬᠡ᠃ ᠳᠣᠣᠷ᠎ᠠ ᠬᠢ «ᠳᠠᠬᠢᠨ ᠡᠬᠢᠯᠡᠬᠦ» ᠶᠢ ᠳᠠᠷᠤᠭᠠᠷᠠᠢ᠃",
    "error.rate_limited": "ᠬᠡᠲᠦᠷᠬᠡᠢ ᠬᠤᠷᠳᠤᠨ ᠳᠠᠷᠤᠪᠠ᠃ ᠬᠡᠳᠦᠨ ᠰᠸᠺᠦᠨ᠋ᠳ ᠬᠦᠯᠢᠶᠡᠭᠡᠳ ᠳᠠᠬᠢᠨ ᠣᠷᠣᠯᠳᠠᠭᠠᠷᠠᠢ᠃",
    "error.not_authenticated": (
        "ᠨᠡᠪᠲᠡᠷᠡᠭᠡᠳᠦᠢ ᠪᠤᠶᠤ ᠨᠡᠪᠲᠡᠷᠡᠯᠲᠡ ᠶᠢᠨ ᠬᠤᠭᠤᠴᠠᠭ᠎ᠠ ᠳᠠᠭᠤᠰᠪᠠ᠃ ᠳᠣᠣᠷ᠎ᠠ ᠬᠢ «ᠳᠠᠬᠢᠨ ᠡᠬᠢᠯᠡᠬᠦ» ᠶᠢ ᠳᠠᠷᠤᠭᠠᠷᠠᠢ᠃"
    ),
    "error.already_authenticated": "ᠨᠡᠪᠲᠡᠷᠡᠭᠰᠡᠨ ᠪᠠᠢᠨ᠎ᠠ᠃ ᠳᠣᠣᠷ᠎ᠠ ᠬᠢ «ᠳᠠᠬᠢᠨ ᠡᠬᠢᠯᠡᠬᠦ» ᠶᠢ ᠳᠠᠷᠤᠭᠠᠷᠠᠢ᠃",
    "error.bad_credentials": (
        "ᠡᠨᠡ ᠲᠡᠷᠮᠢᠨᠠᠯ ᠤᠨ ᠳᠠᠩᠰᠠ ᠪᠤᠶᠤ ᠨᠢᠭᠤᠴᠠ ᠺᠣᠳ᠋ ᠪᠤᠷᠤᠭᠤ᠃ ᠵᠠᠬᠢᠷᠤᠭᠴᠢ ᠲᠠᠢ ᠬᠣᠯᠪᠣᠭᠳᠠᠭᠠᠷᠠᠢ᠃"
    ),
    "error.forbidden": "ᠡᠨᠡ ᠳᠠᠩᠰᠠ ᠡᠨᠡ ᠦᠢᠯᠡ ᠶᠢ ᠬᠢᠵᠦ ᠳᠡᠢᠯᠬᠦ ᠦᠭᠡᠢ᠃ ᠵᠥᠪ ᠨᠢᠭᠤᠷ ᠢ ᠨᠡᠭᠡᠭᠡᠭᠡᠷᠡᠢ᠃",
    "error.invalid_state": (
        "ᠣᠳᠣ ᠡᠨᠡ ᠦᠢᠯᠡ ᠶᠢ ᠬᠢᠵᠦ ᠪᠣᠯᠬᠤ ᠦᠭᠡᠢ᠃ ᠲᠦᠷ ᠬᠦᠯᠢᠶᠡᠭᠡᠷᠡᠢ᠂ ᠡᠰᠡᠬᠦᠯ᠎ᠡ ᠳᠣᠣᠷ᠎ᠠ ᠬᠢ «ᠳᠠᠬᠢᠨ ᠡᠬᠢᠯᠡᠬᠦ» ᠶᠢ "
        "ᠳᠠᠷᠤᠭᠠᠷᠠᠢ᠃"
    ),
    "error.not_found": (
        "ᠡᠨᠡ ᠵᠥᠪᠯᠡᠭᠡ ᠣᠯᠳᠠᠭᠰᠠᠨ ᠦᠭᠡᠢ᠂ ᠳᠠᠭᠤᠰᠤᠭᠰᠠᠨ ᠪᠠᠢᠵᠤ ᠮᠡᠳᠡᠨ᠎ᠡ᠃ ᠳᠣᠣᠷ᠎ᠠ ᠬᠢ «ᠳᠠᠬᠢᠨ ᠡᠬᠢᠯᠡᠬᠦ» ᠶᠢ ᠳᠠᠷᠤᠭᠠᠷᠠᠢ᠃"
    ),
    "error.resume_failed": (
        "ᠬᠡᠲᠦᠷᠬᠡᠢ ᠤᠳᠠᠭ᠎ᠠ ᠰᠠᠯᠤᠭᠰᠠᠨ ᠤ ᠲᠤᠯᠠ ᠡᠭᠦᠷᠭᠡ ᠪᠤᠶᠤ ᠶᠠᠷᠢᠯᠴᠠᠭ᠎ᠠ ᠳᠠᠭᠤᠰᠪᠠ᠃ ᠳᠣᠣᠷ᠎ᠠ ᠬᠢ «ᠳᠠᠬᠢᠨ ᠡᠬᠢᠯᠡᠬᠦ» "
        "ᠶᠢ ᠳᠠᠷᠤᠭᠠᠷᠠᠢ᠃"
    ),
    "error.hello_timeout": (
        "ᠰᠸᠷᠸᠷ ᠲᠡᠢ ᠵᠠᠯᠭᠠᠬᠤ ᠤᠳᠠᠭᠠᠨ ᠬᠡᠲᠦᠷᠡᠪᠡ᠃ ᠰᠦᠯᠵᠢᠶ᠎ᠡ ᠪᠡᠨ ᠰᠢᠯᠭᠠᠭᠠᠳ᠂ ᠳᠣᠣᠷ᠎ᠠ ᠬᠢ «ᠳᠠᠬᠢᠨ ᠡᠬᠢᠯᠡᠬᠦ» ᠶᠢ "
        "ᠳᠠᠷᠤᠭᠠᠷᠠᠢ᠃"
    ),
    "error.internal_error": (
        "ᠰᠸᠷᠸᠷ ᠳᠤ ᠭᠡᠮᠲᠡᠯ ᠭᠠᠷᠪᠠ᠃ ᠲᠦᠷ ᠬᠦᠯᠢᠶᠡᠭᠡᠳ ᠳᠣᠣᠷ᠎ᠠ ᠬᠢ «ᠳᠠᠬᠢᠨ ᠡᠬᠢᠯᠡᠬᠦ» ᠶᠢ ᠳᠠᠷᠤᠭᠠᠷᠠᠢ᠃"
    ),
}

# Sign-in, the supervisors' pages, the record (notes, outcome, rating) and kiosk enrolment. The
# supervisors' and the desk's texts are Chinese only; what the kiosk shows is in both.
_ZH_RECORDS: dict[str, str] = {
    "index.supervisor": "司法局管理",
    "village.enrol_title": "这台终端还没有登记",
    "village.enrol_hint": (
        "请把下面的登记码告诉司法局的管理员。管理员确认后，这台终端就可以使用了。"
    ),
    "village.enrol_waiting": "正在等待管理员确认…",
    "village.enrol_failed": "暂时连不上服务器，正在重试…",
    "village.enrol_revoked": "这台终端已被停用，或者需要重新登记。请联系司法局的管理员。",
    "village.rate_title": "您对这次咨询满意吗？请点一下：",
    "village.rate_very_bad": "很不满意",
    "village.rate_bad": "不满意",
    "village.rate_fair": "一般",
    "village.rate_good": "满意",
    "village.rate_very_good": "很满意",
    "village.rate_saving": "正在提交…",
    "village.rate_thanks": "谢谢您的评价！",
    "error.revoked": "这台终端或这个账号已被停用，不能继续使用。请联系司法局的管理员。",
    "lawyer.history_link": "我的咨询记录",
    "lawyer.sign_out": "退出登录",
    "lawyer.record_title": "咨询记录",
    "lawyer.record_for": "{village}：{topic}",
    "lawyer.notes_label": "笔记（自动保存）",
    "lawyer.notes_placeholder": "在这里记录当事人的情况和您的意见…",
    "lawyer.notes_saving": "正在保存…",
    "lawyer.notes_saved": "已保存",
    "lawyer.notes_offline": "还没保存：网络断开了，恢复后会自动保存",
    "lawyer.notes_failed": "保存失败，稍后会再试",
    "lawyer.outcome_label": "处理结果",
    "lawyer.outcome_choose": "请选择…",
    "lawyer.outcome_detail_placeholder": "补充说明（可不填）",
    "lawyer.record_done": "完成，关闭记录",
    "lawyer.history_title": "我的咨询记录",
    "lawyer.back_to_desk": "返回工作台",
    "lawyer.history_duration": "通话 {d}",
    "lawyer.history_rating": "评价 {n} / 5",
    "lawyer.history_empty": "还没有您接听过的咨询。",
    "outcome.advice_given": "已解答咨询",
    "outcome.referred_mediation": "转人民调解",
    "outcome.legal_aid_application": "申请法律援助",
    "outcome.referred_court": "建议诉讼",
    "outcome.referred_agency": "转有关部门",
    "outcome.mediation_agreement": "达成调解协议",
    "outcome.mediation_failed": "调解未成功",
    "outcome.follow_up": "需要跟进",
    "outcome.other": "其他",
    "reason.hang_up": "挂断",
    "reason.cancelled": "村民取消",
    "reason.peer_gone": "网络断开",
    "reason.abandoned": "等待时离开",
    "reason.server_shutdown": "服务器停止",
    "reason.revoked": "终端或账号被停用",
    "reason.callback_missed": "回电未接通",
    "event.requested": "发起请求",
    "event.offered": "推送给",
    "event.offer_accepted": "接听",
    "event.offer_declined": "拒绝",
    "event.offer_timeout": "超时未接",
    "event.offer_cancelled": "请求已取消",
    "event.offer_abandoned": "请求已放弃",
    "event.offer_off_duty": "结束值班",
    "event.offer_disconnected": "网络断开",
    "event.offer_terminal_away": "终端不在线",
    "event.answered": "接通",
    "event.joined": "进入通话",
    "event.left": "离开通话",
    "event.citation_shown": "展示法条",
    "event.citation_pushed": "推送法条到终端",
    "event.notes_saved": "保存笔记",
    "event.outcome": "填写处理结果",
    "event.ended": "结束",
    "event.rated": "评价",
    "presence.offline": "离线",
    "presence.online": "在线",
    "presence.on_duty": "值班中",
    "presence.waiting": "排队中",
    "presence.in_call": "通话中",
    "account_role.lawyer": "律师",
    "account_role.mediator": "调解员",
    "account_role.supervisor": "管理员",
    "audit.record_read": "查看咨询记录",
    "audit.recording_read": "查看录像",
    "audit.account_create": "新建账号",
    "audit.account_disable": "停用账号",
    "audit.account_enable": "启用账号",
    "audit.account_password": "修改密码",
    "audit.account_profile": "修改资料",
    "audit.token_issue": "发放令牌",
    "audit.token_revoke": "收回令牌",
    "audit.terminal_add": "添加终端",
    "audit.terminal_token": "发放终端令牌",
    "audit.terminal_enrol": "登记终端",
    "audit.terminal_revoke": "停用终端",
    "auth.login_title": "登录",
    "auth.username": "用户名",
    "auth.password": "密码",
    "auth.sign_in": "登录",
    "auth.sign_out": "退出登录",
    "auth.login_hint": "律师、调解员和司法局管理员用自己的账号登录。村法律服务室的终端不用登录。",
    "auth.failed": "用户名或密码不对。",
    "auth.locked": "尝试次数太多，暂时不能登录。请 {minutes} 分钟后再试，或者联系管理员。",
    "auth.signed_in_as": "当前账号：{name}",
    "auth.csrf_title": "页面已过期",
    "auth.csrf_failed": (
        "这个页面已经过期，或者不是从本网站打开的，操作没有执行。请返回，刷新页面后再试一次。"
    ),
    "auth.forbidden_title": "没有权限",
    "auth.forbidden": "您的账号不能打开这个页面。请用有权限的账号登录。",
    "supervisor.title": "司法局管理",
    "supervisor.nav_consultations": "咨询记录",
    "supervisor.nav_accounts": "账号",
    "supervisor.nav_terminals": "终端",
    "supervisor.nav_audit": "审计日志",
    "supervisor.consultations_title": "咨询记录",
    "supervisor.filter_date_from": "从（日期）",
    "supervisor.filter_date_to": "到（日期）",
    "supervisor.filter_any": "全部",
    "supervisor.filter_apply": "筛选",
    "supervisor.filter_clear": "清除筛选",
    "supervisor.filter_bad_date": "日期格式不对，请用“年-月-日”，例如 2026-03-01。",
    "supervisor.filter_bad_topic": "没有这个问题类型。",
    "supervisor.filter_bad_outcome": "没有这个处理结果。",
    "supervisor.filter_bad_action": "没有这种操作。",
    "supervisor.result_count": "共 {n} 条",
    "supervisor.no_results": "没有符合条件的记录。",
    "supervisor.page_prev": "上一页",
    "supervisor.page_next": "下一页",
    "supervisor.page_of": "第 {page} / {pages} 页",
    "supervisor.field_requested_at": "请求时间",
    "supervisor.field_village": "村",
    "supervisor.field_topic": "问题",
    "supervisor.field_professional": "律师/调解员",
    "supervisor.field_waited": "等待",
    "supervisor.field_duration": "通话时长",
    "supervisor.field_end": "结束方式",
    "supervisor.field_outcome": "处理结果",
    "supervisor.field_rating": "评价",
    "supervisor.field_terminal": "终端编号",
    "supervisor.field_language": "语言",
    "supervisor.field_kind": "类型",
    "supervisor.field_answered_at": "接通时间",
    "supervisor.field_ended_at": "结束时间",
    "supervisor.field_villager": "当事人",
    "supervisor.field_time": "时间",
    "supervisor.field_event": "事件",
    "supervisor.field_who": "操作人",
    "supervisor.field_detail": "说明",
    "supervisor.field_action": "操作",
    "supervisor.field_subject": "对象",
    "supervisor.field_consultation": "咨询编号",
    "supervisor.field_username": "用户名",
    "supervisor.field_display_name": "显示名",
    "supervisor.field_role": "角色",
    "supervisor.field_topics": "负责的问题",
    "supervisor.field_languages": "语言",
    "supervisor.field_created_at": "创建时间",
    "supervisor.field_status": "状态",
    "supervisor.field_password": "初始密码",
    "supervisor.field_enrolled_at": "登记时间",
    "supervisor.ongoing": "进行中",
    "supervisor.record_title": "咨询详情",
    "supervisor.record_missing": "找不到这条咨询记录。",
    "supervisor.record_audited": "您查看这条记录已写入审计日志。",
    "supervisor.back_to_list": "← 返回咨询记录",
    "supervisor.notes_title": "律师/调解员的笔记",
    "supervisor.note_by": "{author}，{time}，共保存 {saves} 次",
    "supervisor.no_notes": "没有笔记。",
    "supervisor.citations_title": "引用的法条",
    "supervisor.citation_pinned": "已标记",
    "supervisor.citation_pushed": "已推送到终端",
    "supervisor.timeline_title": "经过",
    "supervisor.revision": "第 {n} 版",
    "supervisor.accounts_title": "账号",
    "supervisor.all_topics": "全部问题",
    "supervisor.account_disabled_at": "已停用（{time}）",
    "supervisor.enabled": "正常",
    "supervisor.disable": "停用",
    "supervisor.enable": "启用",
    "supervisor.add_account": "新建账号",
    "supervisor.topics_hint": "（不选表示全部问题）",
    "supervisor.notice_account_created": "已新建账号 {subject}。",
    "supervisor.notice_account_disabled": "已停用账号 {subject}：它的登录和通话都已断开。",
    "supervisor.notice_account_enabled": "已启用账号 {subject}。",
    "supervisor.notice_terminal_added": (
        "已添加终端 {subject}。请在终端上打开村法律服务室页面，再在这一行填写它显示的登记码。"
    ),
    "supervisor.notice_terminal_enrolled": "终端 {subject} 已登记，几秒钟后就可以使用了。",
    "supervisor.notice_terminal_revoked": "终端 {subject} 已停用：它的连接和通话都已断开。",
    "supervisor.username_taken": "这个用户名已经有人用了。",
    "supervisor.account_invalid": "账号信息不对，请检查后再试。",
    "supervisor.bad_username": (
        "用户名只能用字母、数字和 . _ -，要以字母或数字开头，最多 64 个字符。"
    ),
    "supervisor.bad_display_name": "请填写显示名，最多 {n} 个字。",
    "supervisor.bad_role": "请选择角色。",
    "supervisor.bad_password": "密码至少要 {n} 个字符。",
    "supervisor.bad_languages": "律师和调解员至少要选一种语言。",
    "supervisor.not_yourself": "不能停用您自己正在使用的账号。",
    "supervisor.no_such_account": "没有这个账号。",
    "supervisor.no_such_terminal": "没有这台终端。",
    "supervisor.terminals_title": "终端",
    "supervisor.enrol_hint": (
        "登记新终端：先在下面添加终端，再在终端上打开村法律服务室页面，"
        "把屏幕上的登记码填到这一行里确认。"
    ),
    "supervisor.terminal_revoked_at": "已停用（{time}）",
    "supervisor.terminal_not_enrolled": "未登记",
    "supervisor.enrol": "登记码",
    "supervisor.code_placeholder": "例如 K7QF-3MXD",
    "supervisor.enrol_confirm": "确认登记",
    "supervisor.revoke": "停用",
    "supervisor.add_terminal": "添加终端",
    "supervisor.bad_terminal_identity": (
        "终端编号只能用字母、数字和 . _ -，要以字母或数字开头，最多 64 个字符。"
    ),
    "supervisor.bad_village": "请填写村名，最多 {n} 个字。",
    "supervisor.terminal_taken": "这个终端编号已经有了。",
    "supervisor.enrol_unknown": "没有这个登记码。请核对终端屏幕上的登记码。",
    "supervisor.enrol_used": "这个登记码已经用过了。请让终端刷新页面，显示新的登记码。",
    "supervisor.enrol_expired": "这个登记码已过期。请让终端刷新页面，显示新的登记码。",
    "supervisor.audit_title": "审计日志",
}

_MN_RECORDS: dict[str, str] = {
    "village.enrol_title": "ᠡᠨᠡ ᠲᠡᠷᠮᠢᠨᠠᠯ ᠢ ᠪᠦᠷᠢᠳᠬᠡᠭᠦᠯᠦᠭᠡᠳᠦᠢ ᠪᠠᠢᠨ᠎ᠠ",
    "village.enrol_hint": (
        "ᠳᠣᠣᠷᠠᠬᠢ ᠺᠣᠳ᠋ ᠢ ᠱᠢᠭᠦᠨ ᠵᠠᠰᠠᠬᠤ ᠲᠣᠪᠴᠢᠶ᠎ᠠ ᠶᠢᠨ ᠵᠠᠬᠢᠷᠤᠭᠴᠢ ᠳᠤ ᠬᠡᠯᠡᠭᠡᠷᠡᠢ᠃ ᠵᠠᠬᠢᠷᠤᠭᠴᠢ ᠪᠠᠲᠤᠯᠠᠭᠰᠠᠨ ᠤ "
        "ᠳᠠᠷᠠᠭ᠎ᠠ ᠡᠨᠡ ᠲᠡᠷᠮᠢᠨᠠᠯ ᠢ ᠬᠡᠷᠡᠭᠯᠡᠵᠦ ᠪᠣᠯᠣᠨ᠎ᠠ᠃"
    ),
    "village.enrol_waiting": "ᠵᠠᠬᠢᠷᠤᠭᠴᠢ ᠶᠢᠨ ᠪᠠᠲᠤᠯᠠᠬᠤ ᠶᠢ ᠬᠦᠯᠢᠶᠡᠵᠦ ᠪᠠᠢᠨ᠎ᠠ…",
    "village.enrol_failed": "ᠰᠸᠷᠸᠷ ᠲᠡᠢ ᠵᠠᠯᠭᠠᠭᠳᠠᠬᠤ ᠦᠭᠡᠢ ᠪᠠᠢᠨ᠎ᠠ᠂ ᠳᠠᠬᠢᠨ ᠣᠷᠣᠯᠳᠠᠵᠤ ᠪᠠᠢᠨ᠎ᠠ…",
    "village.enrol_revoked": (
        "ᠡᠨᠡ ᠲᠡᠷᠮᠢᠨᠠᠯ ᠤᠨ ᠡᠷᠬᠡ ᠶᠢ ᠬᠠᠰᠤᠭᠰᠠᠨ ᠪᠤᠶᠤ ᠳᠠᠬᠢᠨ ᠪᠦᠷᠢᠳᠬᠡᠬᠦ ᠬᠡᠷᠡᠭᠲᠡᠢ᠃ "
        "ᠵᠠᠬᠢᠷᠤᠭᠴᠢ ᠲᠠᠢ ᠬᠣᠯᠪᠣᠭᠳᠠᠭᠠᠷᠠᠢ᠃"
    ),
    "village.rate_title": "ᠡᠨᠡ ᠤᠳᠠᠭᠠᠨ ᠤ ᠵᠥᠪᠯᠡᠭᠡ ᠳᠤ ᠲᠠ ᠰᠡᠳᠬᠢᠯ ᠬᠠᠨᠤᠭᠰᠠᠨ ᠤᠤ? ᠨᠢᠭᠡ ᠢ ᠳᠠᠷᠤᠭᠠᠷᠠᠢ᠄",
    "village.rate_very_bad": "ᠮᠠᠰᠢ ᠮᠠᠭᠤ",
    "village.rate_bad": "ᠮᠠᠭᠤ",
    "village.rate_fair": "ᠳᠤᠮᠳᠠ",
    "village.rate_good": "ᠰᠠᠢᠨ",
    "village.rate_very_good": "ᠮᠠᠰᠢ ᠰᠠᠢᠨ",
    "village.rate_saving": "ᠢᠯᠡᠭᠡᠵᠦ ᠪᠠᠢᠨ᠎ᠠ…",
    "village.rate_thanks": "ᠦᠨᠡᠯᠡᠭᠡ ᠥᠭᠭᠦᠭᠰᠡᠨ ᠳᠦ ᠪᠠᠶᠠᠷᠯᠠᠯ᠎ᠠ!",
    "error.revoked": (
        "ᠡᠨᠡ ᠲᠡᠷᠮᠢᠨᠠᠯ ᠪᠤᠶᠤ ᠳᠠᠩᠰᠠ ᠶᠢᠨ ᠡᠷᠬᠡ ᠶᠢ ᠬᠠᠰᠤᠭᠰᠠᠨ᠃ ᠵᠠᠬᠢᠷᠤᠭᠴᠢ ᠲᠠᠢ ᠬᠣᠯᠪᠣᠭᠳᠠᠭᠠᠷᠠᠢ᠃ ᠳᠣᠣᠷ᠎ᠠ ᠬᠢ "
        "«ᠳᠠᠬᠢᠨ ᠡᠬᠢᠯᠡᠬᠦ» ᠶᠢ ᠳᠠᠷᠤᠭᠠᠷᠠᠢ᠃"
    ),
}


def _with_topics(texts: dict[str, str], language: str) -> Mapping[str, str]:
    merged = dict(texts)
    for t in TOPICS:
        merged[f"topic.{t.slug}"] = t.zh if language == "zh" else t.mn
    return MappingProxyType(merged)


CATALOGUE: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "zh": _with_topics(_ZH | _ZH_RECORDS, "zh"),
        "mn": _with_topics(_MN | _MN_RECORDS, "mn"),
    }
)
del _ZH, _MN, _ZH_RECORDS, _MN_RECORDS


def text(key: str, language: str = DEFAULT_LANGUAGE, **params: object) -> str:
    """The text for `key` (falling back to Chinese), with `{name}` placeholders filled in."""
    texts = CATALOGUE.get(language, CATALOGUE[DEFAULT_LANGUAGE])
    template = texts.get(key)
    if template is None:
        template = CATALOGUE[DEFAULT_LANGUAGE][key]  # KeyError names a missing key
    for name, value in params.items():
        template = template.replace("{" + name + "}", str(value))
    return template


def for_page(prefixes: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """The catalogue as a page needs it: every language, only the keys under `prefixes`."""
    return {
        language: {k: v for k, v in texts.items() if k.startswith(prefixes)}
        for language, texts in CATALOGUE.items()
    }


def missing(language: str, prefixes: tuple[str, ...] = ("",)) -> list[str]:
    """Keys Chinese has under `prefixes` that `language` lacks (Chinese is the reference)."""
    have = CATALOGUE[language]
    return sorted(
        k for k in CATALOGUE[DEFAULT_LANGUAGE] if k.startswith(prefixes) and k not in have
    )

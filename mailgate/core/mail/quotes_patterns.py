"""Core: the line patterns `quotes.strip_reply` uses (reply headers, forwards, footers) in several languages."""

from __future__ import annotations

import re

# "wrote" in the reply headers of common clients: en, fr, de, nl, es, it, pt, nordic, pl, cs, fi, ru, uk, hu, tr, el,
# he, ar, vi; then the CJK forms, which follow the name or the time with no blank ("10:12写道", "さんは書きました",
# "<x@y>のメール", "님이 작성").
_WORD_VERB = (
    r"(?:wrote|writes|a\s+[ée]crit|nous\s+a\s+dit|schrieb|schreef|(?:het\s+volgende\s+)?geschreven|escribi[óo]"
    r"|ha\s+scritto|scrisse|escreveu|skrev|napisa[łl](?:\(a\))?|napisana|napsal(?:\(a\))?|kirjoitti"
    r"|написал(?:\(а\))?|написала|пишет|пише|írta|yazdı|έγραψε|כתב(?:\(ה\)|ה)?|كتب|đã\s+viết)"
)
_CJK_VERB = r"(?:写道|寫道|書きました|のメール|작성)"
_VERB = rf"(?:(?<!\w){_WORD_VERB}(?!\w)|{_CJK_VERB})"
# A reply header, possibly joined from two or three wrapped lines, ends with the verb (then maybe a name) and
# a colon, or, Zoho style, with dashes: "---- On Tue, ... wrote ----".
VERB = re.compile(_VERB, re.IGNORECASE)  # cheap pre-filter before ATTRIBUTION
# German and English clients also put the date after the verb: "Max <m@example.de> schrieb am Fr., 28. Apr. 2017
# um 11:53 Uhr:", "John <j@example.com> wrote on 5 March 2024 at 10:12:", Apple Mail's Polish "Wiadomość napisana
# przez X w dniu 5.03.2024, o godz. 10:12:", Gmail's Greek "Ο X <x@y> έγραψε στις Τρί 5 Μαρ 2024 στις 10:12:".
ATTRIBUTION = re.compile(
    rf"^[\s>*-]*+(?P<head>.{{0,400}}?){_VERB}(?:\s+(?:am|on|przez|στις)\s[^\n]{{0,160}}?|[^:：\n]{{0,150}})"
    r"(?:[:：]|\s-{2,})[\s*-]*+$",
    re.IGNORECASE,
)
# Words that open a dated reply header: "On <date>, X wrote:", "Le <date>, X a écrit :", "Am <date> schrieb X:",
# "El <date>, X escribió:", "Il giorno <date> X ha scritto:", "Op <date> schreef X:", "Den <date> skrev X:".
OPENER = re.compile(r"^[\s>*-]*(?:On|At|Le|Am|El|Il|Op|Den|Em|Dnia|Dňa|Dne|W\s+dniu|Pada|Wiadomo[śs][ćc]|在)\s")
# Horde and friends: "Quoting John Doe <jd@example.com>:", "Zitat von Hans <h@example.de>:"
QUOTING = re.compile(r"^\s*(?:Quoting|Zitat\s+von|Citando|Citation\s+de|Cytuję)\s.{1,200}[:：]\s*$")
# What makes a header dated: a time, a year, or an address.
DATED = re.compile(r"\d{1,2}[:h.]\d{2}|(?:19|20)\d\d|@")
# "2022年1月1日(金) 9:00 Taro <taro@example.com>:" and "2015-10-18 0:17 GMT+03:00 Matt <m@example.org>:"
DATE_ADDRESS = re.compile(r"^\s*(?=\S).{0,200}?(?:19|20)\d\d.{0,200}?<[^<>\s@]+@[^<>\s]+>\s*[:：]\s*$")
# The end of a line that can end a reply header, after its trailing blanks, stars and dashes: a colon, or
# dashes after a blank (`quotes._ends_header`, a cheap pre-filter before the patterns above).
COLONS = (":", "：")
SPACED_DASHES = re.compile(r"\s--")

_FORWARD_NAMES = (
    r"forwarded\s+message|message\s+transf[ée]r[ée]|message\s+r[ée]exp[ée]di[ée]|weitergeleitete\s+nachricht"
    r"|mensaje\s+reenviado|messaggio\s+inoltrato|doorgestuurd\s+bericht|mensagem\s+(?:encaminhada|reencaminhada)"
    r"|vidarebefordrat\s+meddelande|videresendt\s+(?:meddelelse|melding)|wiadomo[śs][ćc]\s+przekazana\s+dalej"
    r"|p[řr]eposlan[áa]\s+zpr[áa]va|v[äa]litetty\s+viesti|пересылаемое\s+сообщение|перенаправленное\s+сообщение"
    r"|mail\s+transf[ée]r[ée]|przekazana\s+wiadomo[śs][ćc]|転送されたメッセージ|転送メッセージ|已转发邮件|转发的邮件"
    r"|转发的消息|轉寄的郵件|전달된\s*메시지"
)
_ORIGINAL_NAMES = (
    r"original\s+message|(?:message|mail)\s+d['’]origine|mail\s+original|urspr[üu]ngliche\s+(?:nachricht|mail)"
    r"|original[\s-]*nachricht|oryginalna\s+wiadomo[śs][ćc]|оригинальное\s+сообщение|元のメッセージ"
    r"|mensaje\s+original|messaggio\s+originale|oorspronkelijk\s+bericht|origineel\s+bericht|mensagem\s+original"
    r"|oprindelig\s+meddelelse|opprinnelig\s+melding|ursprungligt\s+meddelande|wiadomo[śs][ćc]\s+oryginalna"
    r"|p[ůu]vodn[íi]\s+zpr[áa]va|alkuper[äa]inen\s+viesti|reply\s+message|原始邮件|исходное\s+сообщение"
)
# "---------- Forwarded message ---------", "-------- Message transféré --------", "Begin forwarded message:"
FORWARD = re.compile(
    rf"^[\s*>]*(?:-{{2,}}\s*(?:{_FORWARD_NAMES})\s*-{{2,}}"
    r"|(?:begin\s+forwarded\s+message|d[ée]but\s+du\s+message\s+(?:r[ée]exp[ée]di[ée]|transf[ée]r[ée])"
    r"|anfang\s+der\s+weitergeleiteten\s+(?:nachricht|e-mail)|inicio\s+del\s+mensaje\s+reenviado"
    r"|inizio\s+messaggio\s+inoltrato|begin\s+doorgestuurd\s+bericht|in[íi]cio\s+da\s+mensagem\s+"
    r"(?:encaminhada|reencaminhada)|начало\s+переадресованного\s+сообщения|pocz[ąa]tek\s+przekazywanej\s+wiadomo[śs]ci"
    r"|vidarebefordrat\s+(?:mejl|meddelande)|転送されたメッセージ|以下是转发的邮件|轉寄的郵件)\s*[:：])[\s*]*$",
    re.IGNORECASE,
)
# "-----Original Message-----", "-----Message d'origine-----", "----- Ursprüngliche Nachricht -----"
ORIGINAL = re.compile(rf"^[\s*>]*-{{2,}}\s*(?:{_ORIGINAL_NAMES})\s*-{{2,}}[\s*]*$", re.IGNORECASE)

# Header fields of an Outlook-style block ("From: … Sent: … To: … Subject:") and their meaning.
_FIELDS = {
    "from": ("from", "de", "von", "van", "da", "od", "fra", "från", "lähettäjä", "expéditeur", "remitente",
             "absender", "afzender", "mittente", "feladó", "kimden", "от", "від", "από", "发件人", "寄件者", "差出人",
             "送信者", "보낸 사람"),
    "date": ("sent", "date", "envoyé", "envoyé le", "gesendet", "datum", "enviado", "enviada em", "enviado el",
             "fecha", "inviato", "data", "verzonden", "verstuurd", "sendt", "skickat", "wysłano", "odesláno",
             "lähetetty", "elküldve", "dátum", "gönderildi", "tarih", "отправлено", "дата", "надіслано", "στάλθηκε",
             "发送时间", "日期", "寄件日期", "送信日時", "日付", "보낸 날짜", "날짜", "sent at"),
    "to": ("to", "à", "a", "an", "para", "aan", "til", "till", "do", "komu", "vastaanottaja", "destinataire",
           "destinatario", "címzett", "kime", "кому", "προς", "收件人", "收件者", "宛先", "받는 사람"),
    "cc": ("cc", "cci", "bcc", "kopie", "copie", "kopia", "kopio", "másolat", "копия", "копія", "κοιν", "抄送", "副本",
           "참조"),
    "subject": ("subject", "objet", "sujet", "betreff", "asunto", "oggetto", "onderwerp", "emne", "ämne", "temat",
                "předmět", "aihe", "assunto", "tárgy", "konu", "тема", "θέμα", "主题", "主旨", "件名", "제목"),
    "reply-to": ("reply-to", "répondre à", "antwort an", "responder a", "rispondi a", "beantwoorden - aan"),
}
FIELD_KIND = {name: kind for kind, names in _FIELDS.items() for name in names}
# The fields of a block an HTML conversion flattened onto one line: "From: X Sent: Y To: Z Subject: W".
INLINE_FIELD = re.compile(
    r"(?<=\s)\*{0,2}(?P<name>" + "|".join(re.escape(n) for n in sorted(FIELD_KIND, key=len, reverse=True))
    + r")\*{0,2}\s?[:：]", re.IGNORECASE)
# "From: X", "*From:* X", "De : X" (French spacing, no-break spaces included), "发件人: X"
HEADER_FIELD = re.compile(r"^[\s>]*+\*{0,2}\s*+(?P<name>[^\W\d_][\w\- ]{0,22}?)\s*+\*{0,2}\s*+[:：]")

_UNQUOTED = (r"(?:mail|outlook|yahoo|gmail|aol|proton|samsung|huawei|xiaomi|android|iphone|ipad|blackberry|windows"
             r"|zoho|spark|bluemail|gmx|web\.de|mymail|aquamail|edison|fairemail|k-9)")
# "Sent from my Verizon, Samsung Galaxy smartphone", "Sent via the Samsung Galaxy S23, an AT&T 5G smartphone"
_DEVICE = r"(?:,\s(?:an?\s)?(?:[\w®™&'’.-]{1,30}\s){0,3}(?:smartphone|phone|device|tablet))?"
# "Sent from my Android phone with GMX Mail. Please excuse my brevity."
_EXCUSE = r"(?:[.,;!]?\s*+(?:please\s+)?(?:excuse|pardon|forgive)\s[\w ,.'’-]{0,60})?"
# Mobile and mail-app footers, whole line: "Sent from my iPhone", "Envoyé de mon iPhone", "Get Outlook for Android".
MOBILE = re.compile(
    r"^[\s(<\[*]*(?:"
    r"sent\s+(?:from|with|via|using)\s+(?:the\s+)?(?:my\s+[\w®™&'’ .-]{1,60}|" + _UNQUOTED + r"\b[\w®™&'’ .-]{0,60})"
    + _DEVICE + _EXCUSE +
    r"|sent\s+from\s+(?:a\s+)?mobile(?:\s+device)?|from\s+my\s+(?:iphone|ipad|android|mobile|smartphone)[\w ]{0,20}"
    r"|(?:get|download)\s+(?:outlook|bluemail|spark|yahoo\s+mail)\s+for\s+\w+"
    r"|envoy[ée]\s+(?:de|depuis|à\s+partir\s+de)\s+(?:mon|ma|l['’]|yahoo|outlook|gmail|mail)[\w®™' .-]{0,40}"
    r"|(?:t[ée]l[ée]charger|obtenir)\s+outlook\s+pour\s+\w+"
    r"|von\s+meinem\s+[\w®™ .-]{1,40}\s+gesendet|gesendet\s+(?:von|mit|vom)\s+(?:meinem|meiner|der|dem|mein|"
    + _UNQUOTED + r")\b[\w®™ .-]{0,40}|diese\s+nachricht\s+wurde\s+von\s+[\w®™ .-]{1,60}\s+gesendet\.?"
    r"|outlook\s+f[üu]r\s+\w+\s+(?:herunterladen|beziehen)|holen\s+sie\s+sich\s+outlook\s+f[üu]r\s+\w+"
    r"|enviado\s+(?:desde|do|de)\s+(?:mi|meu|o\s+meu|" + _UNQUOTED + r")\b[\w®™ .-]{0,40}"
    r"|obtener\s+outlook\s+para\s+\w+|obter\s+o\s+outlook\s+para\s+\w+"
    r"|inviato\s+da(?:l\s+mio)?\s+[\w®™ .-]{1,40}|scarica\s+outlook\s+per\s+\w+"
    r"|(?:verzonden|verstuurd)\s+(?:vanaf|vanuit|met|van)\s+(?:mijn\s+)?[\w®™ .-]{1,40}"
    r"|outlook\s+voor\s+\w+\s+downloaden|sendt\s+fra\s+min\s+[\w®™ .-]{1,40}|skickat\s+fr[åa]n\s+min\s+[\w®™ .-]{1,40}"
    r"|wys[łl]ane\s+z\s+(?:mojego\s+)?[\w®™'’ .-]{1,40}|отправлено\s+(?:с|из|со)\s+(?:моего\s+)?[\w®™ .-]{1,40}"
    r"|надіслано\s+з\s+[\w®™ .-]{1,40}|[\w ]{1,30}から送信|從我的\s*[\w ]{1,30}傳送|从我的\s*[\w ]{1,30}发送"
    r"|发自我的\s*[\w ]{1,30}"
    r")[\s)>\].*]*(?:<https?://[^>\s]*>)?\s*$",
    re.IGNORECASE,
)

QUOTE = re.compile(r"^\s*>")
SIGNATURE = re.compile(r"^\s*--\s*$")  # "-- " (RFC 3676) and the common "--" without the space
UNDERSCORES = re.compile(r"^\s*_{8,}\s*$")  # Outlook separator, mailing-list footers
DELIMITER = re.compile(r"^\s*[-_=*~#+—–·]{3,}\s*$")
# "-Abhishek Kona", "--John", "— Jean", "/John": a one-line sign-off after a blank line at the very end.
DASH_SIGNOFF = re.compile(r"^\s*(?:[-/](?=[^\W\d_])|--\s?|[—–]\s?)[^\W\d_][\w.'’-]*(?:\s[^\W\d_][\w.'’-]*){0,3}\s*$")
# A reply/forward prefix at the start of a subject says which: "Fwd:", "TR:", "WG:", "RV:", "I:", "Doorst:".
FORWARD_SUBJECT = re.compile(r"^\s*(?:\[[^\]]{0,40}\]\s*)*(?:fwd?|tr|transf|wg|rv|enc|i|doorst|pd|vb|vl)\s*[:：]",
                             re.IGNORECASE)
# The warning a mail gateway puts above an outside mail: the first paragraph, removed.
EXTERNAL_BANNER = re.compile(
    r"^[\s\[*]*(?:caution|warning|external|attention|achtung|avertissement|aviso|attenzione|let\s+op)\b.{0,80}?"
    r"(?:originated\s+from\s+outside|from\s+an?\s+external|outside\s+(?:of\s+)?(?:the|your|this|our)\s+"
    r"(?:organi[sz]ation|company)|provient\s+de\s+l['’]ext[ée]rieur|d['’]un\s+exp[ée]diteur\s+externe"
    r"|von\s+au(?:ß|ss)erhalb|externen\s+absender|fuera\s+de\s+la\s+organizaci[óo]n|all['’]esterno"
    r"|buiten\s+de\s+organisatie|van\s+buiten)",
    re.IGNORECASE,
)

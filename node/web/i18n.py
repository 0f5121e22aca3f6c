"""Every word the clerk's page shows, in Vietnamese (the default) and English.

The Vietnamese follows the clerks' own vocabulary (Nghị định 30/2020/NĐ-CP): văn bản
đến / đi, số đến, sổ đăng ký, trích yếu, độ khẩn, độ mật, nơi nhận, thu hồi.
"""

from __future__ import annotations

from typing import Any

LANGUAGES = ("vi", "en")
DEFAULT = "vi"

# key: (Vietnamese, English); {name} marks a value filled in by translate().
CATALOGUE: dict[str, tuple[str, str]] = {
    "app.name": ("Liên thông văn bản", "Document exchange"),
    # Navigation
    "nav.inbox": ("Văn bản đến", "Incoming documents"),
    "nav.outbox": ("Văn bản đi", "Outgoing documents"),
    "nav.compose": ("Soạn văn bản đi", "Compose a document"),
    "nav.registers": ("Sổ văn bản", "Registers"),
    "nav.paper": ("Nhập văn bản giấy", "Paper entry"),
    "nav.health": ("Tình trạng hệ thống", "Node health"),
    "nav.users": ("Người dùng", "Users"),
    "nav.logout": ("Đăng xuất", "Sign out"),
    "role.clerk": ("Văn thư", "Clerk"),
    "role.leader": ("Lãnh đạo", "Leader"),
    "role.admin": ("Quản trị", "Administrator"),
    # Errors
    "error.title": ("Không thực hiện được", "Not possible"),
    "error.not_found": ("Không tìm thấy trang hoặc văn bản này.", "No such page or document."),
    "error.role": (
        "Tài khoản của bạn không có quyền làm việc này.",
        "Your account is not allowed to do this.",
    ),
    "error.csrf": (
        "Trang này đã mở quá lâu hoặc phiên làm việc đã kết thúc, nên thao tác chưa được thực "
        "hiện. Hãy tải lại trang rồi làm lại.",
        "This page was open too long or the session has ended, so nothing was done. Reload the "
        "page and try again.",
    ),
    "error.form_encoding": (
        "Không đọc được chữ trong biểu mẫu (bảng mã ký tự không đúng); chưa có gì được lưu. Hãy "
        "tải lại trang rồi nhập lại.",
        "The form's text cannot be read (wrong character encoding); nothing was stored. Reload "
        "the page and fill it in again.",
    ),
    "error.details": ("Chi tiết cho cán bộ kỹ thuật", "Details for the technician"),
    "error.bad_action": ("Thao tác không hợp lệ.", "Unknown action."),
    "error.disk_full": (
        "Ổ đĩa lưu dữ liệu của đơn vị đã đầy ({path}): thao tác này chưa được lưu, dữ liệu đã "
        "có không bị mất. Hãy báo cán bộ kỹ thuật giải phóng dung lượng rồi thử lại.",
        "The disk holding this office's data is full ({path}): this action was not saved, "
        "and nothing already stored is lost. Ask the technician to free space, then try again.",
    ),
    "error.host": (
        "Trang này không phục vụ tên máy chủ “{host}”. Hãy mở trang bằng địa chỉ cán bộ kỹ "
        "thuật đã cung cấp.",
        "This page does not answer to the host name “{host}”. Open it at the address the "
        "technician gave you.",
    ),
    # Login
    "login.title": ("Đăng nhập", "Sign in"),
    "login.username": ("Tên đăng nhập", "Username"),
    "login.password": ("Mật khẩu", "Password"),
    "login.submit": ("Đăng nhập", "Sign in"),
    "login.failed": ("Sai tên đăng nhập hoặc mật khẩu.", "Wrong username or password."),
    "login.failed_count": (
        "Sai tên đăng nhập hoặc mật khẩu. Sau {max} lần sai liên tiếp, tài khoản bị khóa tạm thời.",
        "Wrong username or password. After {max} failures in a row the account is locked "
        "for a while.",
    ),
    "login.locked": (
        "Tài khoản đang bị khóa {minutes} phút do nhập sai mật khẩu nhiều lần.",
        "This account is locked for {minutes} minutes after too many wrong passwords.",
    ),
    "login.disabled": (
        "Tài khoản này đã bị vô hiệu hóa. Hãy liên hệ người quản trị.",
        "This account is disabled. Ask the administrator.",
    ),
    "login.rate_limited": (
        "Quá nhiều lần đăng nhập từ địa chỉ này (tối đa {per_minute} lần mỗi phút). "
        "Hãy thử lại sau {seconds} giây.",
        "Too many sign-ins from this address (at most {per_minute} a minute). "
        "Try again in {seconds} seconds.",
    ),
    # Lists
    "list.search": ("Tìm kiếm", "Search"),
    "list.search_hint": (
        "Số ký hiệu, trích yếu hoặc cơ quan gửi",
        "Number, subject or issuing office",
    ),
    "list.search_too_long": (
        "Nội dung tìm kiếm dài quá {max} ký tự.",
        "The search text is longer than {max} characters.",
    ),
    "list.bad_date": (
        "Ngày không hợp lệ: {value} (cần dạng ngày/tháng/năm, ví dụ 24/11/2025).",
        "Not a date: {value} (expected day/month/year, e.g. 24/11/2025).",
    ),
    "list.date_hint": ("Ngày/tháng/năm, ví dụ 24/11/2025", "Day/month/year, e.g. 24/11/2025"),
    "list.search_failed": (
        "Không tìm được với nội dung này; hãy thử từ khác.",
        "This search could not be run; try other words.",
    ),
    "list.status": ("Trạng thái", "Status"),
    "list.all": ("Tất cả", "All"),
    "list.only_new": ("Chỉ văn bản mới", "New only"),
    "list.since": ("Từ ngày", "From"),
    "list.until": ("Đến ngày", "To"),
    "list.filter": ("Lọc", "Filter"),
    "list.clear": ("Bỏ lọc", "Clear"),
    "list.empty": ("Không có văn bản nào.", "No documents."),
    "list.files": ("{count} tệp", "{count} files"),
    "list.first_page": ("Trang đầu", "First page"),
    "list.next_page": ("Trang sau", "Next page"),
    "inbox.urgent": ("Văn bản khẩn chưa vào sổ", "Urgent documents not yet registered"),
    "inbox.new": ("Mới", "New"),
    "outbox.recipients": ("Nơi nhận và tình trạng", "Recipients and status"),
    "outbox.incoming_number": ("số đến {number}", "incoming no. {number}"),
    "outbox.retrying": ("đang thử lại (lần {attempts})", "retrying (attempt {attempts})"),
    "outbox.changed": ("Thay đổi lúc", "Last change"),
    "outbox.dead": ("bị từ chối nhiều lần, đã dừng gửi", "refused repeatedly, no longer sent"),
    # Dead letters (protocol.delivery.Delivery.DEAD, storage.outbox.refused)
    "dead.title": ("Không gửi được: bị từ chối nhiều lần", "Not delivered: refused repeatedly"),
    "dead.help": (
        "Đơn vị nhận đã từ chối nhiều lần (hoặc từ chối hẳn), nên hệ thống đã dừng tự gửi lại. "
        "Hãy xem lý do, liên hệ đơn vị nhận hoặc cán bộ kỹ thuật để khắc phục, rồi bấm “Gửi lại”.",
        "The receiving office refused this repeatedly (or for good), so it is no longer sent by "
        "itself. Read the reason, ask the receiving office or the technician to fix it, then "
        "press “Send again”.",
    ),
    "dead.what": ("Nội dung", "What"),
    "dead.refusal": ("Lý do từ chối", "Refusal"),
    "dead.since": ("Dừng gửi lúc", "Stopped at"),
    "dead.envelope": ("Văn bản", "The document"),
    "dead.status": ("Phản hồi {code} ({label})", "Status {code} ({label})"),
    # Why a destination refused a dead letter: the error names of docs/PROTOCOL.md 16.4 a
    # refusal for good can carry, in the clerk's words (refusal.other for any other name).
    "refusal.NotARecipient": (
        "Đơn vị nhận không có trong danh sách nơi nhận của văn bản.",
        "The receiving office is not among the document's recipients.",
    ),
    "refusal.Revoked": (
        "Đơn vị nhận coi khóa của máy chủ liên thông bên gửi là đã bị thu hồi; hãy báo trung tâm.",
        "The receiving office holds the sending server's key as revoked; tell the centre.",
    ),
    "refusal.BadSignature": (
        "Đơn vị nhận không xác thực được nơi gửi của văn bản.",
        "The receiving office could not verify where the document came from.",
    ),
    "refusal.SignerMismatch": (
        "Đơn vị nhận không xác thực được nơi gửi của văn bản.",
        "The receiving office could not verify where the document came from.",
    ),
    "refusal.LimitExceeded": (
        "Văn bản hoặc tệp đính kèm lớn hơn mức đơn vị nhận chấp nhận.",
        "The document or an attachment is larger than the receiving office accepts.",
    ),
    "refusal.unreadable": (
        "Đơn vị nhận không đọc được văn bản (phần mềm hai bên có thể khác phiên bản).",
        "The receiving office cannot read the document (the two may run different versions).",
    ),
    "refusal.EnvelopeIdReused": (
        "Đơn vị nhận đã giữ một văn bản khác mang cùng mã của bên gửi.",
        "The receiving office holds another document under the same sender's id.",
    ),
    "refusal.NotFound": (
        "Đơn vị nhận không có văn bản mà phản hồi này nói đến.",
        "The receiving office does not hold the document this status is about.",
    ),
    "refusal.TransitionError": (
        "Văn bản tại đơn vị nhận đã ở trạng thái không nhận phản hồi này nữa.",
        "At the receiving office the document can no longer take this status.",
    ),
    "refusal.UnknownMailbox": (
        "Trạm trung chuyển chưa có hộp thư của đơn vị nhận (đơn vị chưa có trong danh bạ của "
        "trung tâm).",
        "The relay has no mailbox for the receiving office (it is not in the centre's "
        "directory yet).",
    ),
    "refusal.other": (
        "Đơn vị nhận không nhận văn bản này.",
        "The receiving office does not take this document.",
    ),
    "dead.times": ("{count} lần liên tiếp", "{count} times in a row"),
    "action.retry": ("Gửi lại", "Send again"),
    # Fields
    "field.number": ("Số, ký hiệu", "Number and notation"),
    "field.subject": ("Trích yếu", "Subject"),
    "field.issuer": ("Cơ quan ban hành", "Issuing office"),
    "field.received": ("Ngày đến", "Received"),
    "field.sent": ("Ngày gửi", "Sent"),
    "field.place_date": ("Địa danh, ngày ban hành", "Place and date of issue"),
    "field.place": ("Địa danh", "Place of issue"),
    "field.issued_on": ("Ngày ban hành", "Date of issue"),
    "field.doc_type": ("Loại văn bản", "Document type"),
    "field.signer": ("Người ký", "Signed by"),
    "field.signer_name": ("Họ tên người ký", "Signer's name"),
    "field.position": ("Chức vụ", "Position"),
    "field.authority": ("Thẩm quyền ký (KT., TL., TM., TUQ.)", "Signing authority"),
    "field.urgency": ("Độ khẩn", "Urgency"),
    "field.scheduled_at": ("hẹn giờ đến", "to arrive by"),
    "field.confidentiality": ("Độ mật", "Confidentiality"),
    "field.due_on": ("Hạn trả lời", "Reply due"),
    "field.addressees": ("Kính gửi", "Addressees"),
    "field.distribution": ("Nơi nhận", "Distribution list"),
    "field.copies": ("Số bản", "Copies"),
    "field.pages": ("Số trang", "Pages"),
    "field.drafter": ("Người soạn thảo", "Drafter"),
    "field.steering": ("Ý kiến chỉ đạo", "Steering notes"),
    "field.content": ("Nội dung tóm tắt", "Content summary"),
    "field.incoming_number": ("Số đến", "Incoming number"),
    "field.unit": ("Đơn vị", "Unit"),
    # Levels
    "urgency.normal": ("Thường", "Normal"),
    "urgency.urgent": ("Khẩn", "Urgent"),
    "urgency.very_urgent": ("Thượng khẩn", "Very urgent"),
    "urgency.flash": ("Hỏa tốc", "Flash"),
    "urgency.flash_scheduled": ("Hỏa tốc hẹn giờ", "Flash, timed"),
    "conf.normal": ("Thường", "Not classified"),
    "conf.secret": ("Mật", "Secret"),
    "conf.top_secret": ("Tối mật", "Top secret"),
    "conf.absolute_secret": ("Tuyệt mật", "Absolute secret"),
    # Document states at this unit (protocol.states.DocState)
    "state.arrived": ("Đã đến", "Arrived"),
    "state.rejected": ("Đã từ chối", "Rejected"),
    "state.accepted": ("Đã vào sổ", "Registered"),
    "state.assigned": ("Đã phân công", "Assigned"),
    "state.in_progress": ("Đang xử lý", "In progress"),
    "state.completed": ("Hoàn thành", "Completed"),
    "state.recalled": ("Đã thu hồi", "Recalled"),
    "state.sent": ("Đã gửi", "Sent"),
    "recall.none": ("Không có đề nghị thu hồi", "No recall asked"),
    "recall.requested": ("Bên gửi đề nghị thu hồi", "Recall requested"),
    "recall.agreed": ("Đã đồng ý thu hồi", "Recall agreed"),
    "recall.refused": ("Đã từ chối thu hồi", "Recall refused"),
    # Delivery per recipient (protocol.delivery.Delivery)
    "delivery.queued": ("Đang chờ gửi", "Queued"),
    "delivery.relayed": ("Đã gửi qua trạm trung chuyển", "At the relay"),
    "delivery.arrived": ("Đã đến", "Arrived"),
    "delivery.rejected": ("Bị từ chối", "Rejected"),
    "delivery.accepted": ("Đã vào sổ", "Registered"),
    "delivery.assigned": ("Đã phân công", "Assigned"),
    "delivery.in_progress": ("Đang xử lý", "In progress"),
    "delivery.completed": ("Hoàn thành", "Completed"),
    "delivery.recalled": ("Đã thu hồi", "Recalled"),
    "delivery.expired": ("Quá hạn lưu ở trạm trung chuyển", "Expired at the relay"),
    "delivery.failed": ("Không gửi được", "Failed"),
    "delivery.dead": ("Bị từ chối, đã dừng gửi", "Refused, no longer sent"),
    # Status codes (protocol.codes.StatusCode): from STATUS_NAMES, below the catalogue
    # Document view
    "doc.number_prefix": ("số", "no."),
    # The node's check of the envelope's transport signature: where the document came from.
    # Not the legal digital signature (a licensed CA's certificate, a signature on the PDF),
    # so never named with the law's words for it (tests/node/web/test_web_words.py).
    "doc.sender_verified": (
        "Đã xác thực nơi gửi: {name} ({code})",
        "Sender verified: {name} ({code})",
    ),
    "doc.sender_verified_help": (
        "Văn bản đúng do máy chủ liên thông của đơn vị này gửi và không bị sửa đổi trên đường "
        "truyền. Khóa của máy chủ bên gửi: số {serial}.",
        "The document was sent by this office's exchange server and was not altered on the "
        "way. The sending server's key: no. {serial}.",
    ),
    "doc.sender_unverified": (
        "KHÔNG xác thực được nơi gửi: không chắc văn bản do đúng đơn vị ghi trên đó gửi, hoặc "
        "văn bản đã bị sửa đổi trên đường truyền. Đừng xử lý văn bản này; hãy báo cán bộ kỹ "
        "thuật.",
        "Sender NOT verified: the document may not come from the office it names, or it was "
        "altered on the way. Do not handle it; tell the technician.",
    ),
    "doc.attachments": ("Tệp đính kèm", "Attachments"),
    "doc.no_attachments": ("Không có tệp đính kèm.", "No attachments."),
    "doc.view_pdf": ("Xem trực tiếp", "View in the browser"),
    # The envelope's signature is the sending node's (above: where the document came from);
    # the signatures inside a PDF are the signer's and the organisation's (docs/SIGNATURES.md,
    # node/unit/pdf_verify.py), checked against the CAs the technician trusts.
    "doc.sender_node": ("Chữ ký của node gửi", "The sending node's signature"),
    "pdfsig.title": ("Chữ ký trên tệp PDF", "Signatures in the PDF"),
    "pdfsig.valid": (
        "Hợp lệ — ký bởi {name}, tổ chức {org}, lúc {at}",
        "Valid — signed by {name}, organisation {org}, at {at}",
    ),
    "pdfsig.position": ("chức vụ: {position}", "position: {position}"),
    "pdfsig.untrusted": (
        "Chữ ký hợp lệ nhưng từ tổ chức cung cấp dịch vụ chứng thực chưa được tin cậy "
        "(ký bởi {name}, tổ chức {org}, lúc {at})",
        "The signature is valid but from a certification provider not trusted here "
        "(signed by {name}, organisation {org}, at {at})",
    ),
    "pdfsig.invalid": (
        "Không hợp lệ hoặc đã bị sửa sau khi ký (ký bởi {name})",
        "Invalid or changed after signing (signed by {name})",
    ),
    "pdfsig.revocation_not_checked": ("Chưa kiểm tra thu hồi", "Revocation not checked"),
    "pdfsig.timestamp": ("dấu thời gian: {at}", "timestamp: {at}"),
    "pdfsig.pending": ("Đang kiểm tra chữ ký trên tệp…", "Checking the file's signatures…"),
    "pdfsig.unsigned": ("Tệp PDF không có chữ ký.", "The PDF is not signed."),
    "pdfsig.unreadable": (
        "Không kiểm tra được chữ ký: {reason}",
        "The signatures cannot be checked: {reason}",
    ),
    "pdfsig.mark.valid": ("Tệp PDF có chữ ký hợp lệ", "PDF signatures valid"),
    "pdfsig.mark.warning": ("Có tệp PDF cần xem lại chữ ký", "A PDF's signatures need a look"),
    # Why a signature or a file is not valid (crypto/pdf_signatures.py, reason codes)
    "pdfsig.reason.not_intact": (
        "nội dung không khớp với chữ ký (tệp đã bị sửa)",
        "the content does not match the signature (the file was changed)",
    ),
    "pdfsig.reason.bad_signature": (
        "chữ ký không đúng với chứng thư của người ký",
        "the signature does not match the signer's certificate",
    ),
    "pdfsig.reason.changed_after_signing": (
        "nội dung đã bị sửa sau khi ký",
        "the content was changed after signing",
    ),
    "pdfsig.reason.revoked": ("chứng thư của người ký đã bị thu hồi", "the certificate is revoked"),
    "pdfsig.reason.expired": ("chứng thư của người ký đã hết hạn", "the certificate has expired"),
    "pdfsig.reason.not_yet_valid": (
        "chứng thư của người ký chưa có hiệu lực",
        "the certificate is not valid yet",
    ),
    "pdfsig.reason.key_usage": (
        "chứng thư này không dùng để ký văn bản",
        "the certificate is not meant for signing documents",
    ),
    "pdfsig.reason.chain_invalid": (
        "chuỗi chứng thư không hợp lệ",
        "the certificate chain does not hold",
    ),
    "pdfsig.reason.not_pdf": ("không đọc được tệp PDF", "the PDF cannot be read"),
    "pdfsig.reason.too_large": ("tệp quá lớn để kiểm tra", "the file is too large to check"),
    "pdfsig.reason.too_many_signatures": (
        "tệp có quá nhiều chữ ký để kiểm tra",
        "the file has too many signatures to check",
    ),
    "pdfsig.reason.embedded_too_large": (
        "tệp đính kèm bên trong PDF quá lớn để kiểm tra",
        "a file embedded in the PDF is too large to check",
    ),
    "pdfsig.reason.cannot_verify": ("không mở được tệp để kiểm tra", "the file cannot be opened"),
    "pdfsig.reason.timeout": ("không kiểm tra được: quá thời gian", "not checked: took too long"),
    "doc.actions": ("Xử lý", "Actions"),
    "doc.reason": ("Lý do", "Reason"),
    "doc.assignee": ("Giao cho (phòng, người)", "Assign to (department, person)"),
    "doc.note": ("Ghi chú, hạn xử lý", "Note, deadline"),
    "doc.recall_asked": (
        "Bên gửi đề nghị thu hồi văn bản này. Đồng ý hay từ chối (nêu lý do)?",
        "The sender asks to recall this document. Agree, or refuse with a reason?",
    ),
    "doc.reply_subject": (
        "V/v trả lời {kind} số {number} ngày {date}",
        "Reply to {kind} {number} of {date}",
    ),
    "doc.timeline": ("Quá trình xử lý", "Timeline"),
    "doc.timeline_stored": ("Văn bản được lưu tại đơn vị", "Stored at this unit"),
    # An organisation outside the directory, reached through the gateway unit (GATEWAY.md).
    "gateway.via": ("qua cổng kết nối", "via gateway"),
    "gateway.brought": (
        "Văn bản của {name} ({code}), nhận qua cổng kết nối {gateway}",
        "A document of {name} ({code}), received via the gateway {gateway}",
    ),
    "gateway.outside": (
        "Cơ quan ngoài tỉnh (qua cổng kết nối)",
        "Outside the province (via gateway)",
    ),
    "doc.done": ("Đã thực hiện.", "Done."),
    "doc.wire_id": ("Mã văn bản của nơi gửi", "Sender's envelope id"),
    "doc.err.reason": ("Cần ghi lý do.", "A reason is needed."),
    "doc.err.assignee": (
        "Cần ghi phòng hoặc người được giao xử lý.",
        "Name the department or person to assign it to.",
    ),
    "doc.err.transition": (
        "Văn bản không còn ở trạng thái cho phép việc này (có thể người khác vừa xử lý). Trang "
        "dưới đây cho biết tình trạng hiện tại.",
        "The document is no longer in a state that allows this (someone may have just handled "
        "it). The page below shows where it stands now.",
    ),
    "doc.err.nothing_to_retry": (
        "Không còn gì chờ gửi lại cho đơn vị này (có thể đã được gửi lại).",
        "Nothing is waiting to be sent again to this office (it may have been sent already).",
    ),
    "doc.err.not_done": (
        "Chưa thực hiện được việc này. Hãy thử lại; nếu vẫn không được, báo cán bộ kỹ thuật "
        "(chi tiết có trong nhật ký của hệ thống).",
        "This could not be done. Try again; if it keeps happening, tell the technician (the "
        "system's log has the details).",
    ),
    "action.accepted": ("Vào sổ", "Register"),
    "action.rejected": ("Từ chối", "Reject"),
    "action.assigned": ("Phân công xử lý", "Assign"),
    "action.in-progress": ("Bắt đầu xử lý", "Start work"),
    "action.completed": ("Xác nhận hoàn thành", "Mark as completed"),
    "action.recall": ("Đề nghị thu hồi", "Ask to recall"),
    "action.recall-agree": ("Đồng ý thu hồi", "Agree to the recall"),
    "action.recall-refuse": ("Từ chối thu hồi", "Refuse the recall"),
    "action.reply": ("Trả lời văn bản này", "Reply to this document"),
    "action.copy": ("Sao văn bản", "Make a copy"),
    "doc.copy_type": ("Hình thức sao", "Form of copy"),
    "compose.copy_of": ("Bản sao của văn bản", "Copy of the document"),
    "compose.copy_files": (
        "Bản sao y kèm theo các tệp của văn bản gốc khi gửi; bản trích sao và sao lục chỉ"
        " kèm các tệp được chọn dưới đây.",
        "A sao y carries the original's files when sent; a trích sao or sao lục carries only"
        " the files chosen below.",
    ),
    "compose.copy_content": (
        "Sao từ văn bản số {number} ngày {date} của {issuer}.",
        "Copied from document {number} of {date} by {issuer}.",
    ),
    "compose.err.copy_of": (
        "Văn bản gốc của bản sao không hợp lệ; mở lại từ trang văn bản gốc.",
        "The original of this copy is not valid; open it again from the original's page.",
    ),
    "compose.err.copy_type": (
        "Bản sao phải là bản sao y, trích sao hoặc sao lục.",
        "A copy must be a sao y, trích sao or sao lục.",
    ),
    # Compose
    "compose.recipients": ("Nơi nhận", "Recipients"),
    "compose.find_unit": ("Tìm đơn vị", "Find a unit"),
    "compose.find_unit_hint": ("Tên hoặc mã định danh", "Name or organisation code"),
    "compose.all_units": ("Tất cả đơn vị", "All units"),
    "compose.no_units": (
        "Chưa có danh bạ đơn vị (máy chủ liên thông chưa đăng ký hoặc chưa nhận danh bạ).",
        "No unit directory yet (node not enrolled or directory not fetched).",
    ),
    "compose.document": ("Thông tin văn bản", "The document"),
    "compose.number_hint": (
        "Ví dụ 2340/VP-TTTH; văn bản quy phạm pháp luật có năm: 49/2012/QĐ-UBND",
        "e.g. 2340/VP-TTTH; legal documents carry the year: 49/2012/QĐ-UBND",
    ),
    "compose.one_per_line": ("Mỗi dòng một nơi", "One per line"),
    "compose.distribution_hint": (
        "Mỗi dòng một nơi, ví dụ: Như trên; Lưu: VT",
        "One per line, e.g. As above; Archive: VT",
    ),
    "compose.no_secret": (
        "Máy chủ liên thông của đơn vị không được phép gửi văn bản Mật trở lên.",
        "This node is not configured to send documents marked Secret or above.",
    ),
    "compose.size_cap": (
        "Tổng dung lượng tệp tối đa {mb} MB.",
        "All files together at most {mb} MB.",
    ),
    "compose.too_large": (
        "Tệp đính kèm quá lớn: tổng dung lượng tối đa {mb} MB ({bytes} byte). Chưa có gì được "
        "lưu; hãy chọn tệp nhỏ hơn.",
        "The attachments are too large: at most {mb} MB ({bytes} bytes) in total. Nothing "
        "was stored; choose smaller files.",
    ),
    "compose.padded_file_name": (
        "Tên tệp “{name}” có hơn 3 khoảng trắng liền nhau, khoảng trắng ngay trước phần đuôi, "
        "hoặc kết thúc bằng dấu chấm hay khoảng trắng: như vậy có thể che phần đuôi thật của "
        "tệp (ví dụ .exe). Hãy đổi tên tệp rồi chọn lại.",
        "The file name “{name}” has more than 3 spaces in a row, a space right before its "
        "extension, or ends with a dot or a space: that can hide the file's real extension "
        "(such as .exe). Rename the file and choose it again.",
    ),
    "compose.duplicate_file": (
        "Hai tệp cùng tên {name}: hãy đổi tên một tệp.",
        "Two files named {name}: rename one of them.",
    ),
    "compose.files_again": (
        "Hãy chọn lại tệp đính kèm sau khi sửa lỗi.",
        "Choose the attachments again after fixing the errors.",
    ),
    "compose.fix": ("Hãy sửa các ô được đánh dấu.", "Please correct the marked fields."),
    "compose.next": ("Tiếp tục: kiểm tra trước khi gửi", "Next: check before sending"),
    "compose.no_draft": (
        "Không tìm thấy bản nháp (đã gửi, đã hủy hoặc quá hạn).",
        "No such draft (sent, cancelled or expired).",
    ),
    "compose.err.to": ("Chọn ít nhất một nơi nhận.", "Choose at least one recipient."),
    "compose.err.to_unknown": (
        "Không có trong danh bạ: {codes}.",
        "Not in the directory: {codes}.",
    ),
    "compose.err.number": (
        "Số, ký hiệu phải có dạng 2340/VP-TTTH hoặc 49/2012/QĐ-UBND.",
        "Number and notation must look like 2340/VP-TTTH or 49/2012/QĐ-UBND.",
    ),
    "compose.err.doc_type": ("Chọn loại văn bản trong danh sách.", "Choose a type from the list."),
    "compose.err.date": ("Cần một ngày hợp lệ.", "A valid date is needed."),
    "compose.err.due_before": (
        "Hạn trả lời không thể trước ngày ban hành.",
        "The reply due date cannot be before the date of issue.",
    ),
    "compose.err.subject": ("Cần có trích yếu.", "A subject is needed."),
    "compose.err.too_long": ("Dài quá {max} ký tự.", "Longer than {max} characters."),
    "compose.err.authority": ("Thẩm quyền ký không hợp lệ.", "Unknown signing authority."),
    "compose.err.signer": (
        "Có chức vụ hoặc thẩm quyền thì cần họ tên người ký.",
        "A position or authority needs the signer's name.",
    ),
    "compose.err.choice": ("Chọn một giá trị trong danh sách.", "Choose a value from the list."),
    "compose.err.count": ("Cần một số nguyên dương.", "A positive whole number is needed."),
    "compose.err.list": (
        "Tối đa {items} dòng, mỗi dòng tối đa {chars} ký tự.",
        "At most {items} lines of at most {chars} characters.",
    ),
    "compose.err.protocol": ("Không hợp lệ: {detail}", "Invalid: {detail}"),
    # Compose: the official document (Nghị định 30/2020, Phụ lục I; node/web/compose.py)
    "compose.title.update": ("Cập nhật văn bản đi", "Update an outgoing document"),
    "compose.title.replace": ("Thay thế văn bản đi", "Replace an outgoing document"),
    "compose.business.update": ("Văn bản được cập nhật", "The document updated"),
    "compose.business.replace": ("Văn bản bị thay thế", "The document replaced"),
    "compose.reason": ("Lý do cập nhật/thay thế", "Reason for the update/replacement"),
    "compose.target": ("Văn bản được cập nhật/thay thế", "Document updated/replaced"),
    "compose.more_targets": (
        "Thay thế thêm các văn bản (mỗi dòng một số, ký hiệu)",
        "Also replaces (one number and notation per line)",
    ),
    "compose.more_targets_hint": (
        "Văn bản đi của đơn vị, ví dụ 12/VP-TTTH hoặc 49/2025/QĐ-UBND.",
        "This unit's outgoing documents, e.g. 12/VP-TTTH or 49/2025/QĐ-UBND.",
    ),
    "compose.issuer_hint": (
        "(theo cấu hình của đơn vị, mục [unit])",
        "(from the unit's configuration, [unit])",
    ),
    "compose.number": ("Số", "Number"),
    "compose.number_rule_hint": (
        "Số dưới 10 viết hai chữ số: 05. Có thể gõ cả số và ký hiệu: 05/VP-TTTH.",
        "Numbers below 10 take two digits: 05. Number and notation together work too: 05/VP-TTTH.",
    ),
    "compose.year": ("Năm ban hành trong số", "Year in the number"),
    "compose.year_hint": (
        "Chỉ văn bản quy phạm pháp luật ghi năm: 49/2025/QĐ-UBND.",
        "Only legal documents carry the year: 49/2025/QĐ-UBND.",
    ),
    "compose.notation": ("Ký hiệu", "Notation"),
    "compose.number_preview": ("Số, ký hiệu sẽ in:", "Number as printed:"),
    "compose.date_hint": ("Ngày/tháng/năm, ví dụ 24/11/2025", "Day/month/year, e.g. 24/11/2025"),
    "compose.scheduled_at": ("Thời hạn hỏa tốc hẹn giờ", "Timed flash: arrive by"),
    "compose.datetime_hint": (
        "Ngày/tháng/năm giờ:phút, ví dụ 24/11/2025 14:30",
        "Day/month/year hour:minute, e.g. 24/11/2025 14:30",
    ),
    "compose.steering_type": ("Loại chỉ đạo (mã SteeringType)", "Steering type (SteeringType)"),
    "compose.steering_type_hint": (
        "Mã số từ 0 đến {max} theo edXML. QCVN 102:2016 không công bố bảng mã này; để trống "
        "nếu đơn vị không dùng.",
        "A code from 0 to {max} as edXML writes it. QCVN 102:2016 publishes no table of these "
        "codes; leave it empty if the unit does not use them.",
    ),
    "compose.sphere": ("Phạm vi ban hành", "Sphere of promulgation"),
    "compose.appendixes": ("Phụ lục (mỗi dòng một phụ lục)", "Appendixes (one per line)"),
    "compose.appendixes_hint": (
        "Ví dụ: Danh sách các đơn vị triển khai",
        "E.g.: List of the units taking part",
    ),
    "compose.drafter_hint": (
        "Chữ viết tắt tên người soạn thảo, ví dụ KTrang",
        "The drafter's initials, e.g. KTrang",
    ),
    "compose.signature": ("Khối chữ ký", "Signature block"),
    "compose.authority_none": ("— (người đứng đầu ký)", "— (the head signs)"),
    "compose.acts_for": ("Thay mặt / ký thay cho", "On behalf of / signing for"),
    "compose.acts_for_hint": (
        "KT., TL., TUQ.: chức vụ người đứng đầu (Chánh Văn phòng); TM.: tập thể lãnh đạo "
        "(Ủy ban nhân dân).",
        "KT., TL., TUQ.: the head's title (Chánh Văn phòng); TM.: the collective body "
        "(Ủy ban nhân dân).",
    ),
    "compose.position": ("Chức vụ của người ký", "Signer's position"),
    "compose.preview": ("Khối chữ ký sẽ in:", "The signature block as printed:"),
    "compose.staff": ("Người xử lý", "Handled by"),
    "compose.staff_name": ("Họ tên người xử lý", "Handler's name"),
    "compose.staff_department": ("Phòng, ban", "Department"),
    "compose.staff_mobile": ("Điện thoại", "Telephone"),
    "compose.staff_email": ("Thư điện tử", "E-mail"),
    "compose.paper": ("Bản giấy sẽ gửi sau", "The paper original follows"),
    "compose.err.number_form": (
        "Số, ký hiệu phải có dạng 05/VP-TTTH hoặc 49/2025/QĐ-UBND.",
        "Number and notation must look like 05/VP-TTTH or 49/2025/QĐ-UBND.",
    ),
    "compose.err.number_missing": ("Cần ghi số văn bản, ví dụ 05.", "A number is needed, e.g. 05."),
    "compose.err.number_digits": (
        "Số văn bản chỉ gồm chữ số, từ 01, ví dụ 05 hoặc 2340.",
        "The number is digits only, from 01, e.g. 05 or 2340.",
    ),
    "compose.err.number_two_digits": (
        "Số dưới 10 viết hai chữ số: {number}",
        "Numbers below 10 take two digits: {number}",
    ),
    "compose.err.number_zero": (
        "Số từ 10 trở lên không có số 0 ở đầu: {number}, không phải {typed}.",
        "Numbers from 10 have no leading zero: {number}, not {typed}.",
    ),
    "compose.err.notation": (
        "Cần ghi ký hiệu văn bản, ví dụ VP-TTTH.",
        "A notation is needed, e.g. VP-TTTH.",
    ),
    "compose.err.notation_form": (
        "Ký hiệu không có khoảng trắng, dấu / hay ký tự ẩn, tối đa 64 ký tự, ví dụ VP-TTTH.",
        "The notation has no spaces, slash or hidden characters, at most 64, e.g. VP-TTTH.",
    ),
    "compose.err.year_form": (
        "Năm ban hành gồm bốn chữ số, ví dụ 2025.",
        "The year is four digits, e.g. 2025.",
    ),
    "compose.err.year_differs": (
        "Năm ở ô Năm ({typed}) khác năm ghi trong số ({number}).",
        "The year typed ({typed}) differs from the year in the number ({number}).",
    ),
    "compose.err.year_legal": (
        "Văn bản quy phạm pháp luật phải ghi năm ban hành trong số, ví dụ 49/2025/QĐ-UBND.",
        "A legal document carries the year in its number, e.g. 49/2025/QĐ-UBND.",
    ),
    "compose.err.issued_on": (
        "Ngày ban hành cần dạng ngày/tháng/năm, ví dụ 24/11/2025.",
        "The date of issue must be day/month/year, e.g. 24/11/2025.",
    ),
    "compose.err.due_on": (
        "Hạn trả lời cần dạng ngày/tháng/năm, ví dụ 30/11/2025.",
        "The reply due date must be day/month/year, e.g. 30/11/2025.",
    ),
    "compose.err.place": (
        "Cần ghi địa danh trước ngày ban hành, ví dụ Tây Ninh.",
        "The place of issue is needed, e.g. Tây Ninh.",
    ),
    "compose.err.acts_for": (
        "Ký {authority} thì cần ghi thay mặt / ký thay cho ai, ví dụ Chánh Văn phòng.",
        "Signing {authority} needs whom it is on behalf of, e.g. Chánh Văn phòng.",
    ),
    "compose.err.acts_for_alone": (
        "Chỉ ghi thay mặt / ký thay cho khi chọn thẩm quyền ký (KT., TL., TM., TUQ.).",
        "On behalf of / signing for goes with a signing authority (KT., TL., TM., TUQ.).",
    ),
    "compose.err.position": (
        "Cần chức vụ của người ký, ví dụ Phó Chánh Văn phòng.",
        "The signer's position is needed, e.g. Phó Chánh Văn phòng.",
    ),
    "compose.err.signer_name": ("Cần họ tên người ký.", "The signer's full name is needed."),
    "compose.err.scheduled_at": (
        "Hỏa tốc hẹn giờ cần thời hạn dạng ngày/tháng/năm giờ:phút, ví dụ 24/11/2025 14:30.",
        "A timed flash needs its time as day/month/year hour:minute, e.g. 24/11/2025 14:30.",
    ),
    "compose.err.steering_type": (
        "Loại chỉ đạo là một mã số từ 0 đến {max}.",
        "The steering type is a code from 0 to {max}.",
    ),
    "compose.err.staff_email": (
        "Thư điện tử của người xử lý không đúng dạng, ví dụ vanthu@tayninh.gov.vn.",
        "The handler's e-mail is not an address, e.g. vanthu@tayninh.gov.vn.",
    ),
    "compose.err.staff_name": (
        "Cần họ tên người xử lý khi ghi phòng, điện thoại hoặc thư điện tử.",
        "The handler's name is needed with a department, telephone or e-mail.",
    ),
    "compose.err.business": (
        "Biểu mẫu không hợp lệ (loại nghiệp vụ lạ); hãy mở lại trang soạn thảo.",
        "The form is invalid (unknown business); open the compose page again.",
    ),
    "compose.err.reason": (
        "Cần ghi lý do cập nhật/thay thế.",
        "The reason for the update/replacement is needed.",
    ),
    "compose.err.target_missing": (
        "Không tìm thấy văn bản đi được cập nhật/thay thế; hãy mở lại từ trang văn bản đó.",
        "The outgoing document to update or replace is not found; open it again from its page.",
    ),
    "compose.err.target_unknown": (
        "Không có văn bản đi số {number} của đơn vị.",
        "This unit has no outgoing document {number}.",
    ),
    "compose.err.target_one": (
        "Một văn bản cập nhật chỉ cập nhật một văn bản.",
        "An update changes exactly one document.",
    ),
    "compose.err.number_taken": (
        "Số {number} đã có trong sổ văn bản đi năm nay: chưa gửi, chưa có gì được lưu. Hãy "
        "hủy bản nháp, soạn lại với số khác.",
        "Number {number} is in this year's outgoing register already: nothing was sent or "
        "stored. Discard the draft and compose it again with another number.",
    ),
    "compose.err.secret": (
        "Văn bản Mật trở lên không gửi được từ máy chủ liên thông này (chưa được phép dùng "
        "mạng truyền bí mật nhà nước); chưa có gì được lưu.",
        "Documents marked Secret or above cannot be sent from this server (it is not allowed "
        "on a network approved for state secrets); nothing was stored.",
    ),
    "compose.err.not_sent": (
        "Chưa gửi được văn bản; chưa có gì được lưu. Hãy thử lại; nếu vẫn không được, báo cán "
        "bộ kỹ thuật (chi tiết ở dưới).",
        "The document was not sent and nothing was stored. Try again; if it keeps happening, "
        "tell the technician (details below).",
    ),
    "confirm.business.update": (
        "Văn bản này cập nhật văn bản đã gửi; nơi nhận thấy lý do cập nhật.",
        "This document updates one already sent; the recipients see the reason.",
    ),
    "confirm.business.replace": (
        "Văn bản này thay thế {count} văn bản đã gửi; nơi nhận thấy lý do thay thế.",
        "This document replaces {count} sent document(s); the recipients see the reason.",
    ),
    # The official document as on paper (node/web/official.py, templates/_official.html)
    "official.motto": ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"),
    "official.slogan": ("Độc lập - Tự do - Hạnh phúc", "Độc lập - Tự do - Hạnh phúc"),
    "official.number": ("Số: {number}", "No.: {number}"),
    "official.scheduled_at": ("— phải đến trước {at}", "— must arrive by {at}"),
    "official.type": ("Tên loại văn bản", "Document type"),
    "official.dated": ("ngày {date}", "of {date}"),
    "official.appendixes": ("Phụ lục", "Appendixes"),
    "official.paper": ("Bản giấy", "Paper original"),
    "official.extensions": ("Thông tin bổ sung", "Further details"),
    "action.update": ("Cập nhật", "Update"),
    "action.replace": ("Thay thế", "Replace"),
    "confirm.title": ("Kiểm tra trước khi gửi", "Check before sending"),
    "confirm.send": ("Gửi", "Send"),
    "confirm.cancel": ("Hủy bản nháp", "Discard the draft"),
    # Signing at issue (node/unit/signing.py): the organisation's signature on the PDFs
    "sign.title": ("Ký số của cơ quan khi phát hành", "The organisation's signature at issue"),
    "sign.help": (
        "Các tệp PDF ({files}) được ký số bằng khóa của cơ quan ({device}) rồi văn bản được "
        "gửi ngay. Nhập mã PIN của thiết bị ký số; mã PIN chỉ dùng cho lần ký này, không được "
        "lưu.",
        "The PDF files ({files}) are signed with the organisation's key ({device}), then the "
        "document is sent. Type the signing device's PIN; it is used for this signing only "
        "and never stored.",
    ),
    "sign.device.file": ("tệp khóa {name}", "key file {name}"),
    "sign.device.token": ("thiết bị ký số {label}", "signing device {label}"),
    "sign.pin": ("Mã PIN", "PIN"),
    "sign.button": ("Ký số và phát hành", "Sign and issue"),
    "sign.err.not_configured": (
        "Máy này chưa được cài khóa ký số của cơ quan, hoặc văn bản không có tệp PDF. Văn bản "
        "chưa được gửi.",
        "No signing key of the organisation is set up here, or the document has no PDF file. "
        "Nothing was sent.",
    ),
    "sign.err.absent": (
        "Không thấy thiết bị ký số (USB) của cơ quan. Hãy cắm thiết bị vào máy chủ rồi làm lại. "
        "Văn bản chưa được gửi.",
        "The organisation's signing device (USB) is not plugged in. Plug it into the server "
        "and try again. Nothing was sent.",
    ),
    "sign.err.wrong_pin": (
        "Mã PIN không đúng. Văn bản chưa được gửi.",
        "The PIN is wrong. Nothing was sent.",
    ),
    "sign.err.locked": (
        "Thiết bị ký số đã khóa mã PIN vì nhập sai nhiều lần. Hãy nhờ cán bộ kỹ thuật mở khóa. "
        "Văn bản chưa được gửi.",
        "The signing device has locked its PIN after too many wrong tries. Ask the technician "
        "to unlock it. Nothing was sent.",
    ),
    "sign.err.no_key": (
        "Trên thiết bị ký số không có khóa ký của cơ quan như đã cài đặt. Hãy báo cán bộ kỹ "
        "thuật. Văn bản chưa được gửi.",
        "The signing device holds no key of the organisation as configured. Tell the "
        "technician. Nothing was sent.",
    ),
    "sign.err.expired": (
        "Chứng thư ký số của cơ quan đã hết hạn hoặc chưa đến ngày có hiệu lực. Hãy gia hạn "
        "với nơi cấp rồi ký lại. Văn bản chưa được gửi.",
        "The organisation's signing certificate has expired or is not valid yet. Renew it "
        "with its issuer, then sign again. Nothing was sent.",
    ),
    "sign.err.pdf": (
        "Có tệp PDF không mở được hoặc đã đặt mật khẩu, nên không ký được. Hãy lưu lại tệp "
        "không đặt mật khẩu rồi soạn lại. Văn bản chưa được gửi.",
        "A PDF file cannot be opened or is password-protected, so it cannot be signed. Save "
        "it without a password and compose again. Nothing was sent.",
    ),
    "sign.err.timestamp": (
        "Máy chủ cấp dấu thời gian không trả lời. Hãy thử lại sau ít phút. Văn bản chưa được gửi.",
        "The time-stamping server did not answer. Try again in a few minutes. Nothing was sent.",
    ),
    "sign.err.other": (
        "Không ký được văn bản. Văn bản chưa được gửi.",
        "The document could not be signed. Nothing was sent.",
    ),
    # Registers
    "reg.title_incoming": ("Sổ đăng ký văn bản đến năm {year}", "Incoming register {year}"),
    "reg.title_outgoing": ("Sổ đăng ký văn bản đi năm {year}", "Outgoing register {year}"),
    "reg.kind": ("Sổ", "Register"),
    "reg.incoming": ("Văn bản đến", "Incoming"),
    "reg.outgoing": ("Văn bản đi", "Outgoing"),
    "reg.year": ("Năm", "Year"),
    "reg.print": ("Xem bản in", "Print view"),
    "reg.csv": ("Xuất CSV", "Export CSV"),
    "reg.empty": ("Sổ chưa có văn bản nào.", "The register is empty."),
    "reg.manual": ("Nhập tay", "Entered by hand"),
    "reg.manual_yes": ("Văn bản giấy, nhập tay", "Paper, entered by hand"),
    "reg.type": ("Tên loại", "Type"),
    "reg.subject": ("Trích yếu nội dung", "Subject"),
    "reg.notes": ("Ghi chú", "Notes"),
    "reg.in.number": ("Số đến", "Incoming no."),
    "reg.in.arrived_on": ("Ngày đến", "Arrived"),
    "reg.in.issuer": ("Tác giả (cơ quan ban hành)", "Issuing office"),
    "reg.in.number_notation": ("Số, ký hiệu", "Number and notation"),
    "reg.in.doc_date": ("Ngày văn bản", "Date of the document"),
    "reg.in.passed_to": ("Đơn vị hoặc người nhận", "Passed to"),
    "reg.in.receipt_signature": ("Ký nhận", "Receipt signature"),
    "reg.out.number_notation": ("Số, ký hiệu", "Number and notation"),
    "reg.out.issued_on": ("Ngày tháng văn bản", "Date"),
    "reg.out.signer": ("Người ký", "Signer"),
    "reg.out.recipients": ("Nơi nhận", "Recipients"),
    "reg.out.archive_holder": ("Đơn vị, người nhận bản lưu", "Archive copy held by"),
    "reg.out.copies": ("Số lượng bản", "Copies"),
    "reg.out.sent_on": ("Ngày chuyển", "Date sent"),
    "reg.out.receipt_signature": ("Ký nhận", "Receipt signature"),
    "reg.type_subject": ("Tên loại và trích yếu nội dung", "Type and subject"),
    "reg.series": ("Loại sổ", "Register"),
    "reg.series.general": ("Văn bản hành chính", "Administrative documents"),
    "reg.series.secret": ("Văn bản mật", "Secret documents"),
    "reg.series.copies": ("Bản sao", "Copies"),
    "reg.series.legal": ("Văn bản quy phạm pháp luật", "Legal documents"),
    "reg.series.legal_type": ("Văn bản quy phạm pháp luật: {type}", "Legal documents: {type}"),
    "reg.print_register": ("In sổ", "Print the register"),
    "reg.xlsx": ("Xuất Excel", "Export Excel"),
    "reg.page_previous": ("Trang trước", "Previous page"),
    "reg.recalled": ("Đã thu hồi ngày {date}", "Recalled on {date}"),
    "reg.recalled_reason": ("Đã thu hồi ngày {date}: {reason}", "Recalled on {date}: {reason}"),
    "reg.print.title_incoming": ("SỔ ĐĂNG KÝ VĂN BẢN ĐẾN", "REGISTER OF INCOMING DOCUMENTS"),
    "reg.print.title_outgoing": ("SỔ ĐĂNG KÝ VĂN BẢN ĐI", "REGISTER OF OUTGOING DOCUMENTS"),
    "reg.print.year": ("Năm: {year}", "Year: {year}"),
    "reg.print.days": ("Từ ngày {first} đến ngày {last}", "From {first} to {last}"),
    "reg.print.numbers": ("Từ số {first} đến số {last}", "From number {first} to {last}"),
    "reg.print.back": ("Quay lại sổ", "Back to the register"),
    "reg.print.hint": (
        "In bằng lệnh In của trình duyệt (Ctrl+P), khổ A4 nằm ngang.",
        "Print with the browser's Print command (Ctrl+P), A4 landscape.",
    ),
    "reg.dup.title": ("Có thể trùng văn bản đã có", "Possibly a document already here"),
    "reg.dup.line": (
        "Có thể trùng với văn bản đến số {number} ngày {date}: {notation}, {issuer}.",
        "May be the same as incoming document no. {number} of {date}: {notation}, {issuer}.",
    ),
    "reg.dup.arrived": (
        "Có thể trùng với văn bản điện tử đã đến ngày {date}, chưa vào sổ: {notation}, "
        "{issuer}. Nên mở văn bản đó và vào sổ từ trang của nó.",
        "May be the same as the electronic document that arrived on {date}, not registered "
        "yet: {notation}, {issuer}. Better open it and register it from its page.",
    ),
    "reg.dup.ask": (
        "Chưa vào sổ. Hãy kiểm tra lại; nếu đúng là văn bản khác, đánh dấu ô bên dưới rồi "
        "bấm vào sổ lần nữa.",
        "Not registered yet. Check it; if it is indeed another document, tick the box below "
        "and register it again.",
    ),
    "reg.dup.confirm": (
        "Đây là văn bản khác: vẫn vào sổ",
        "This is another document: register it anyway",
    ),
    "reg.paper.legal": (
        "Văn bản quy phạm pháp luật (số có năm, ví dụ 49/2025/QĐ-UBND)",
        "Legal document (its number carries the year, e.g. 49/2025/QĐ-UBND)",
    ),
    "reg.paper.secret_hint": (
        "Văn bản Mật trở lên vào sổ văn bản mật.",
        "Documents marked Secret or above go to the register of secret documents.",
    ),
    "reg.err.number": (
        "Số gồm chữ số, từ 01; số dưới 10 viết hai chữ số (05), số từ 10 trở lên không có "
        "số 0 ở đầu.",
        "A number is digits from 01; below 10 it has two digits (05), from 10 on no leading zero.",
    ),
    "reg.err.confidentiality": ("Chọn độ mật trong danh sách.", "Choose a level from the list."),
    # Paper entry
    "paper.intro": (
        "Ghi vào sổ văn bản giấy nhận hoặc gửi trong lúc mất mạng. Văn bản được lấy số tiếp theo "
        "của sổ và đánh dấu nhập tay. Khi bản điện tử của văn bản đến về sau, hệ thống gắn nó với "
        "dòng này (cùng cơ quan gửi, số ký hiệu và ngày), không vào sổ lần hai.",
        "Record a paper document received or sent while the network was down. It takes the "
        "register's next number and is marked as entered by hand. When the electronic copy "
        "of an incoming one arrives later, it is linked to this line (same sender, number and "
        "date), not registered twice.",
    ),
    "paper.incoming": ("Văn bản đến (giấy)", "Incoming paper document"),
    "paper.outgoing": ("Văn bản đi (giấy)", "Outgoing paper document"),
    "paper.issuer_code": ("Mã định danh cơ quan gửi", "Sender's organisation code"),
    "paper.issuer_code_hint": (
        "Chọn để bản điện tử đến sau được đối chiếu, không vào sổ lần hai.",
        "Choose it so that the electronic copy arriving later is matched, not registered twice.",
    ),
    "paper.number": ("Số", "Number"),
    "paper.number_hint": ("Để trống: lấy số tiếp theo của sổ.", "Empty: the next number."),
    "paper.notation": ("Ký hiệu", "Notation"),
    "paper.save_incoming": ("Vào sổ văn bản đến", "Enter in the incoming register"),
    "paper.save_outgoing": ("Vào sổ văn bản đi", "Enter in the outgoing register"),
    "paper.err.required": ("Cần điền ô này.", "This field is needed."),
    # Health
    "health.directory": ("Danh bạ liên thông", "Federation directory"),
    "health.version": ("Phiên bản", "Version"),
    "health.issued": ("Ký lúc", "Signed"),
    "health.expires": ("Hết hạn", "Expires"),
    "health.expired": ("ĐÃ HẾT HẠN", "EXPIRED"),
    "health.valid": ("Còn hiệu lực", "Valid"),
    "health.centre": ("Trung tâm", "Centre"),
    "health.units": ("Số đơn vị", "Units"),
    "health.no_directory": (
        "Chưa có danh bạ: máy chủ liên thông chưa đăng ký với trung tâm.",
        "No directory yet: the node is not enrolled.",
    ),
    "health.disk": ("Lưu trữ", "Storage"),
    "health.free": ("Dung lượng trống", "Free space"),
    "health.disk_low": ("SẮP HẾT CHỖ", "LOW"),
    "health.store": ("Cơ sở dữ liệu", "Database"),
    "health.delivery": ("Bộ gửi văn bản", "Delivery worker"),
    "health.running": ("Đang chạy", "Running"),
    "health.not_running": ("Không chạy cùng trang này", "Not running with this page"),
    "health.queues": ("Hàng đợi gửi theo đơn vị", "Queue per destination"),
    "health.waiting": ("Đang chờ", "Waiting"),
    "health.queues_empty": ("Không có gì đang chờ gửi.", "Nothing waiting."),
    "health.errors": ("Lỗi gửi gần nhất", "Last delivery errors"),
    "health.failures": ("Số lần lỗi liên tiếp", "Failures in a row"),
    "health.last_error": ("Lỗi", "Error"),
    "health.not_sent": ("Chưa gửi được, đang thử lại", "Not delivered yet, retrying"),
    "health.centre_timeout": (
        "Trung tâm không trả lời trong {seconds} giây",
        "The centre did not answer within {seconds} seconds",
    ),
    "health.no_errors": ("Không có lỗi.", "No errors."),
    "health.fetched": (
        "Danh bạ nhận gần nhất từ Trung tâm hoặc đơn vị khác",
        "Last directory from the centre or a peer",
    ),
    "health.never_fetched": ("Chưa nhận lần nào", "Never received"),
    "health.centre_link": ("Kết nối tới trung tâm", "Connection to the centre"),
    "health.centre_ok": ("Kết nối được", "Reachable"),
    "health.centre_down": ("Không kết nối được", "Unreachable"),
    "health.centre_last_ok": ("Trả lời lần cuối", "Last answered"),
    "health.centre_unknown": ("Chưa kiểm tra", "Not checked"),
    "health.peers": ("Đơn vị đã gửi tới được", "Peers reached"),
    "health.last_contact": ("Lần cuối", "Last time"),
    "health.path": ("Đường gửi", "Path"),
    "health.path_direct": ("Trực tiếp", "Direct"),
    "health.path_relay": ("Qua trạm trung chuyển", "Via the relay"),
    "health.no_peers": (
        "Chưa gửi tới đơn vị nào từ khi khởi động.",
        "No peer reached since start.",
    ),
    # Users
    "users.add": ("Thêm tài khoản", "Add an account"),
    "users.accounts": ("Danh sách tài khoản", "Accounts"),
    "users.status": ("Trạng thái", "Status"),
    "users.locked": ("Đang bị khóa", "Locked"),
    "users.active": ("Hoạt động", "Active"),
    "users.none": ("Chưa có tài khoản nào.", "No accounts yet."),
    "users.display_name": ("Họ tên", "Full name"),
    "users.role": ("Vai trò", "Role"),
    "users.password2": ("Nhập lại mật khẩu", "Password again"),
    "users.change_role": ("Đổi vai trò", "Change a role"),
    "users.save": ("Lưu", "Save"),
    "users.roles_help": (
        "Văn thư: vào sổ, gửi văn bản. Lãnh đạo: phân công xử lý. Quản trị: quản lý tài khoản.",
        "Clerk: registers and sends. Leader: assigns. Administrator: manages accounts.",
    ),
    "users.added": ("Đã tạo tài khoản {name} ({role}).", "Account {name} ({role}) created."),
    "users.role_changed": ("Đã đổi vai trò của {name}: {role}.", "{name} is now {role}."),
    "users.err.name": (
        "Tên đăng nhập cần 1 đến {max} ký tự, không có ký tự ẩn.",
        "The username needs 1 to {max} characters, none of them hidden.",
    ),
    "users.err.exists": ("Đã có tài khoản {name}.", "There is an account {name} already."),
    "users.err.role": ("Chọn một vai trò trong danh sách.", "Choose a role from the list."),
    "users.err.not_done": (
        "Chưa thực hiện được việc này với tài khoản {name}; chi tiết có trong nhật ký của hệ "
        "thống.",
        "This could not be done for the account {name}; the system's log has the details.",
    ),
    "users.err.password": (
        "Mật khẩu cần ít nhất {min} ký tự.",
        "The password needs at least {min} characters.",
    ),
    "users.err.mismatch": ("Hai mật khẩu không khớp.", "The two passwords differ."),
    "users.err.unknown": ("Không có tài khoản {name}.", "There is no account {name}."),
    "users.err.self": (
        "Không thể tự vô hiệu hóa tài khoản của mình.",
        "You cannot disable your own account.",
    ),
    "users.actions": ("Thao tác", "Actions"),
    "users.disabled": ("Đã vô hiệu hóa", "Disabled"),
    "users.unlock": ("Mở khóa", "Unlock"),
    "users.disable": ("Vô hiệu hóa", "Disable"),
    "users.enable": ("Kích hoạt lại", "Enable"),
    "users.reset": ("Đặt lại mật khẩu", "Reset a password"),
    "users.new_password": ("Mật khẩu mới", "New password"),
    "users.reset_help": (
        "Mật khẩu mới có hiệu lực ngay; tài khoản được mở khóa và các phiên đăng nhập "
        "của tài khoản đó kết thúc.",
        "The new password works at once; the account is unlocked and its sessions end.",
    ),
    "users.unlocked": ("Đã mở khóa tài khoản {name}.", "Account {name} unlocked."),
    "users.password_reset": (
        "Đã đặt lại mật khẩu của {name}; các phiên đăng nhập của tài khoản đã kết thúc.",
        "The password of {name} is reset; its sessions have ended.",
    ),
    "users.disable_done": (
        "Đã vô hiệu hóa tài khoản {name}; các phiên đăng nhập của tài khoản đã kết thúc.",
        "Account {name} disabled; its sessions have ended.",
    ),
    "users.enable_done": ("Đã kích hoạt lại tài khoản {name}.", "Account {name} enabled again."),
    # The centre's console (node/web/console/)
    "nav.centre": ("Điều hành liên thông", "Centre console"),
    "centre.only": (
        "Trang web của trung tâm chỉ có phần điều hành liên thông, dành cho quản trị viên "
        "của trung tâm. Văn bản được xử lý tại trang web của từng đơn vị.",
        "The centre's web page is its console only, for the centre's administrators. "
        "Documents are handled on each unit's own web page.",
    ),
    "centre.tab.units": ("Đơn vị", "Units"),
    "centre.tab.stats": ("Thống kê", "Statistics"),
    "centre.tab.report": ("Báo cáo thí điểm", "Pilot report"),
    "centre.units": ("Các đơn vị trong liên thông", "Units of the federation"),
    "centre.col.code": ("Mã định danh", "Organisation code"),
    "centre.col.name": ("Tên đơn vị", "Unit"),
    "centre.col.status": ("Đăng ký", "Enrolment"),
    "centre.col.state": ("Tình trạng triển khai", "Deployment"),
    "centre.col.last_seen": ("Kết nối gần nhất", "Last seen"),
    "centre.col.version": ("Phiên bản", "Node version"),
    "centre.col.queue": ("Chờ ở trạm trung chuyển", "Waiting at the relay"),
    "centre.col.actions": ("Thao tác", "Actions"),
    "centre.col.sent": ("Văn bản đã gửi", "Documents sent"),
    "centre.col.received": ("Văn bản đã nhận", "Documents received"),
    "centre.col.median": ("Thời gian chuyển (trung vị)", "Delivery time (median)"),
    "centre.col.median_s": (
        "Thời gian chuyển trung vị (giây)",
        "Median delivery time (seconds)",
    ),
    "centre.col.unprocessed": ("Văn bản đến chưa xử lý xong", "Incoming not yet completed"),
    "centre.col.failures": ("Gửi không thành công", "Failed deliveries"),
    "centre.col.reported": ("Báo cáo gần nhất", "Last report"),
    "centre.own": ("Trung tâm", "Centre"),
    "centre.awaiting": ("Chờ phê duyệt", "Awaiting approval"),
    "centre.approve": ("Phê duyệt", "Approve"),
    "centre.new_token": ("Cấp mã mới", "New token"),
    "centre.revoke": ("Thu hồi", "Revoke"),
    "centre.no_units": ("Chưa có đơn vị nào.", "No units yet."),
    "centre.add": ("Thêm đơn vị", "Add a unit"),
    "centre.add_submit": ("Thêm và cấp mã đăng ký", "Add and issue an enrolment token"),
    "centre.code_hint": (
        "Dạng 000.00.05.H53 (QCVN 102:2016, Quyết định 20/2020/QĐ-TTg).",
        "Like 000.00.05.H53 (QCVN 102:2016, Decision 20/2020/QĐ-TTg).",
    ),
    "centre.about": ("Trung tâm", "This centre"),
    "centre.url": ("Địa chỉ trung tâm", "Centre URL"),
    "centre.fingerprint": ("Dấu vân tay khóa gốc", "Root key fingerprint"),
    "centre.about_help": (
        "Dấu vân tay được in trên phiếu đăng ký; kỹ thuật viên đơn vị đối chiếu khi đăng ký.",
        "The fingerprint is printed on each enrolment sheet; the unit's technician checks it "
        "when enrolling.",
    ),
    "centre.status.pending": ("Chờ đăng ký", "Pending"),
    "centre.status.active": ("Đang hoạt động", "Active"),
    "centre.status.revoked": ("Đã thu hồi", "Revoked"),
    "centre.deployed": ("Đã triển khai", "Deployed"),
    "centre.trial": ("Thử nghiệm", "Trial"),
    "centre.done.revoke": (
        "Đã thu hồi đơn vị {code}; danh bạ mới đã được ký.",
        "Unit {code} revoked; a new directory is signed.",
    ),
    "centre.done.approve": (
        "Đã phê duyệt đơn vị {code}. Đăng ký mới: kỹ thuật viên chạy lại lệnh đăng ký. Gia "
        "hạn khóa: máy chủ của đơn vị tự nhận giấy chứng nhận khóa mới trong vài phút.",
        "Unit {code} approved. An enrolment: its technician runs the enrol command again. A "
        "renewal: the unit picks up its new certificate by itself within minutes.",
    ),
    "centre.done.token": ("Đã cấp mã mới cho {code}.", "New token issued for {code}."),
    "centre.err.code": (
        "Mã định danh không đúng dạng 000.00.05.H53 (hoặc dạng trung tâm quy định).",
        "The organisation code is not like 000.00.05.H53 (or the form the centre sets).",
    ),
    "centre.err.exists": (
        "Đơn vị {code} đã có trong danh sách. Nếu đơn vị đang chờ đăng ký, bấm “Cấp mã mới”; "
        "nếu đã đăng ký xong, thu hồi đơn vị trước khi thêm lại.",
        "Unit {code} is listed already. If it waits for enrolment, press “New token”; if it is "
        "enrolled, revoke it before adding it again.",
    ),
    "centre.err.name": (
        "Tên đơn vị cần 1 đến {max} ký tự.",
        "The unit's name needs 1 to {max} characters.",
    ),
    "centre.err.state": (
        "Chọn tình trạng triển khai trong danh sách.",
        "Choose a deployment state from the list.",
    ),
    "centre.err.nothing_to_approve": (
        "Không có yêu cầu đăng ký hoặc gia hạn nào của đơn vị {code} đang chờ phê duyệt.",
        "No enrolment or renewal request of unit {code} waits for approval.",
    ),
    "centre.err.revoked": ("Đơn vị {code} đã bị thu hồi.", "Unit {code} is revoked."),
    "centre.err.own": (
        "{code} là mã của chính trung tâm này: không thu hồi được.",
        "{code} is this centre's own code: it cannot be revoked.",
    ),
    "centre.err.unknown": (
        "Đơn vị {code} không có trong danh sách của trung tâm.",
        "Unit {code} is not listed at this centre.",
    ),
    "centre.err.failed": (
        "Chưa thực hiện được việc này với đơn vị {code}; chi tiết có trong nhật ký của trung tâm.",
        "This could not be done for unit {code}; the centre's log has the details.",
    ),
    "centre.err.range": (
        "Khoảng ngày không hợp lệ (tối đa {max} ngày); hiển thị 30 ngày gần nhất.",
        "Not a valid range of days (at most {max}); showing the last 30 days.",
    ),
    "centre.confirm.revoke": ("Thu hồi đơn vị", "Revoke a unit"),
    "centre.confirm.token": ("Cấp mã đăng ký mới", "Issue a new enrolment token"),
    "centre.confirm.approve": (
        "Phê duyệt đăng ký hoặc gia hạn khóa",
        "Approve an enrolment or a key renewal",
    ),
    "centre.confirm_help.revoke": (
        "Mọi khóa của đơn vị bị thu hồi và danh bạ mới được ký: các đơn vị khác từ chối văn "
        "bản của đơn vị này ngay khi nhận danh bạ mới. Không hoàn tác được; muốn tham gia lại, "
        "đơn vị phải đăng ký lại từ đầu.",
        "Every certificate of the unit is revoked and a new directory is signed: the other units "
        "refuse its documents as soon as they hold it. This cannot be undone; to join again the "
        "unit enrols from the start.",
    ),
    "centre.confirm_help.token": (
        "Mã đăng ký cũ của đơn vị sẽ không dùng được nữa.",
        "The unit's earlier token stops working.",
    ),
    "centre.confirm_help.approve": (
        "Gọi điện cho kỹ thuật viên của đơn vị và đối chiếu dấu vân tay khóa ở trên với dấu "
        "vân tay trên máy của họ trước khi phê duyệt.",
        "Call the unit's technician and compare the key fingerprint above with the one on "
        "their screen before approving.",
    ),
    "centre.request_key": ("Dấu vân tay khóa xin đăng ký", "Fingerprint of the requesting key"),
    "centre.do.revoke": ("Thu hồi đơn vị này", "Revoke this unit"),
    "centre.do.token": ("Cấp mã mới và in phiếu", "Issue and print the sheet"),
    "centre.do.approve": ("Phê duyệt", "Approve"),
    "centre.cancel": ("Hủy", "Cancel"),
    "centre.seconds": ("{n} giây", "{n} s"),
    "centre.minutes": ("{n} phút", "{n} min"),
    "centre.hours": ("{n} giờ", "{n} h"),
    "centre.chart.documents": (
        "Văn bản gửi đi theo đơn vị, theo ngày",
        "Documents sent per unit per day",
    ),
    "centre.chart.cell": (
        "{row} ({key}), ngày {column}: {value} văn bản",
        "{row} ({key}), {column}: {value}",
    ),
    "centre.chart.times": (
        "Phân bố thời gian chuyển văn bản (từ lúc gửi đến khi nơi nhận báo đã đến)",
        "Delivery time distribution (from sending to the recipient's 'arrived')",
    ),
    "centre.chart.failures": ("Gửi không thành công theo ngày", "Failed deliveries per day"),
    "centre.period": ("Từ {first} đến {last}", "From {first} to {last}"),
    "centre.reported_note": (
        "Số liệu do các đơn vị tự báo cáo về trung tâm (10 phút một lần).",
        "Figures as the units report them to the centre (every 10 minutes).",
    ),
    "centre.deliveries": ("Lượt chuyển đã đến", "Deliveries arrived"),
    "centre.no_figures": ("Chưa có số liệu trong khoảng này.", "No figures in this period."),
    "centre.report_title": (
        "Báo cáo kết quả thí điểm từ {first} đến {last}",
        "Pilot report from {first} to {last}",
    ),
    "centre.never": ("Chưa báo cáo", "Never"),
    "centre.total": ("Tổng cộng", "Total"),
    "sheet.title": (
        "Phiếu đăng ký máy chủ liên thông văn bản",
        "Enrolment sheet for a lienthong node",
    ),
    "sheet.once": (
        "Mã đăng ký chỉ hiện một lần, trên trang này. Hãy in phiếu ngay; nếu mất, cấp mã mới.",
        "The token is shown once, on this page. Print the sheet now; if it is lost, issue a "
        "new token.",
    ),
    "sheet.print": ("In phiếu", "Print the sheet"),
    "sheet.back": ("Về danh sách đơn vị", "Back to the units"),
    "sheet.token": ("Mã đăng ký (dùng một lần)", "Enrolment token (one use)"),
    "sheet.expires": ("Hết hạn", "Expires"),
    "sheet.secret": (
        "Giữ bí mật mã đăng ký cho đến khi đăng ký xong. Dấu vân tay nhận qua phiếu này, không "
        "qua mạng.",
        "Keep the token secret until enrolment is done. The fingerprint comes on this sheet, "
        "never over the network.",
    ),
    "sheet.step_init": ("Khởi tạo máy chủ liên thông:", "Create the node:"),
    "sheet.step_enrol": ("Đăng ký với trung tâm:", "Enrol with the centre:"),
    "sheet.step_check": (
        "Nếu lệnh báo dấu vân tay khác, dừng lại và gọi trung tâm.",
        "If the command reports a different fingerprint, stop and call the centre.",
    ),
    "sheet.step_approval": (
        "Nếu trung tâm yêu cầu phê duyệt: chờ phê duyệt rồi chạy lại bước 2.",
        "If the centre requires approval: wait for it, then run step 2 again.",
    ),
    "sheet.offline": (
        "Không có mạng đến trung tâm: thay bước 2 bằng lệnh sau, mang tệp yeu-cau.bin đến "
        "trung tâm.",
        "No network to the centre: instead of step 2, run this and bring yeu-cau.bin to the "
        "centre.",
    ),
    "sheet.data_dir": (
        "Thư mục dữ liệu của máy chủ liên thông: {dirs}; chọn nơi khác bằng --data-dir THƯ_MỤC.",
        "The node's data folder: {dirs}; another with --data-dir DIR.",
    ),
    "sheet.handed_by": ("Người giao phiếu", "Handed over by"),
    "sheet.received_by": ("Người nhận phiếu", "Received by"),
}

# The one name of each status code (protocol.codes.StatusCode), the same on the page, in the
# CSV of the registers, in the CLI and in docs/CLERK.md (a test holds that table to this one).
# 02 and 16 are both "Từ chối": 02 returns the document, 16 refuses a recall (13) or an
# update; 15 agrees to one. The code written beside the name tells them apart.
STATUS_NAMES: dict[int, tuple[str, str]] = {
    1: ("Đã đến", "Arrived"),
    2: ("Từ chối", "Rejected"),
    3: ("Đã vào sổ", "Registered"),
    4: ("Đã phân công", "Assigned"),
    5: ("Đang xử lý", "In progress"),
    6: ("Hoàn thành", "Completed"),
    13: ("Đề nghị thu hồi", "Recall requested"),
    15: ("Đồng ý", "Agreed"),
    16: ("Từ chối", "Refused"),
}
CATALOGUE.update({f"status.{code:02d}": names for code, names in STATUS_NAMES.items()})
# Updates, replacements and links between documents (node/unit/views.py: status_label,
# links_view, business_view). 15 and 16 are read by what they answer (protocol/states.py).
CATALOGUE.update(
    {
        "state.superseded": ("Đã bị thay thế", "Superseded"),
        "status.15.recall": ("Đồng ý thu hồi", "Recall agreed"),
        "status.16.recall": ("Từ chối thu hồi", "Recall refused"),
        "status.15.update": ("Đồng ý cập nhật", "Update agreed"),
        "status.16.update": ("Từ chối cập nhật", "Update refused"),
        "status.15.replace": ("Đồng ý thay thế", "Replacement agreed"),
        "status.16.replace": ("Từ chối thay thế", "Replacement refused"),
        "business.new": ("Văn bản mới", "New document"),
        "business.update": ("Văn bản cập nhật", "Update of a document"),
        "business.replace": ("Văn bản thay thế", "Replacement of documents"),
        "doc.paper_follows": ("Bản giấy sẽ gửi sau", "The paper original follows by post"),
        "doc.latest_update": ("Bản cập nhật mới nhất", "Newest update"),
        "link.updates": ("Cập nhật cho", "Updates"),
        "link.updated_by": ("Đã được cập nhật bởi", "Updated by"),
        "link.replaces": ("Thay thế", "Replaces"),
        "link.replaced_by": ("Đã bị thay thế bởi", "Replaced by"),
        "link.replies_to": ("Trả lời văn bản", "Replies to"),
        "link.replied_by": ("Được trả lời bởi", "Answered by"),
        "link.copy_of": ("Bản sao của", "Copy of"),
        "link.copied_by": ("Bản sao", "Copy"),
        "link.unknown": (
            "văn bản chưa nhận được (mã {wire_id})",
            "a document not received here (id {wire_id})",
        ),
        "link.applied": ("đã vào sổ", "registered"),
        "link.pending": ("chờ vào sổ", "not registered yet"),
        "link.refused": ("đã trả lại", "returned"),
    }
)

# The work after registration (node/web/work.py): roles, departments, assignment, follow-up.
CATALOGUE.update(
    {
        "role.specialist": ("Chuyên viên", "Specialist"),
        "nav.work": ("Việc của tôi", "My work"),
        "work.title": ("Phân công xử lý", "Assignment"),
        "work.mine": ("Văn bản tôi được giao hoặc đã giao", "Documents assigned to me or by me"),
        "work.overdue": ("Văn bản quá hạn xử lý", "Documents past their deadline"),
        "work.due_soon": ("Sắp đến hạn ({days} ngày tới)", "Due soon (next {days} days)"),
        "work.overdue_mark": ("Quá hạn", "Overdue"),
        "work.lead": ("Xử lý chính", "Lead"),
        "work.co": ("Phối hợp", "Co-handlers"),
        "work.info": ("Để biết", "For information"),
        "work.deadline": ("Hạn xử lý", "Deadline"),
        "work.note": ("Ý kiến chỉ đạo", "Steering note"),
        "work.part": ("Vai trò", "Part"),
        "work.part.lead": ("Xử lý chính", "Lead"),
        "work.part.co": ("Phối hợp", "Co-handler"),
        "work.part.info": ("Để biết", "For information"),
        "work.part.assigned": ("Người giao", "Assigned by me"),
        "work.assigned_by": ("Người giao", "Assigned by"),
        "work.entered_by": ("văn thư {name} nhập", "entered by the clerk {name}"),
        "work.instructed_by": ("Theo chỉ đạo của lãnh đạo", "On the instruction of"),
        "work.assign": ("Phân công", "Assign"),
        "work.reassign": ("Phân công lại", "Reassign"),
        "work.start": ("Bắt đầu xử lý", "Start work"),
        "work.complete": ("Hoàn thành", "Mark completed"),
        "work.complete_for": ("Hoàn thành thay {name}", "Mark completed on behalf of {name}"),
        "work.completed": ("Đã hoàn thành", "Completed"),
        "work.result": ("Kết quả xử lý", "Result"),
        "work.answer": (
            "Văn bản đi trả lời (mã văn bản, nếu có)",
            "Outgoing document that answers it (its id, if any)",
        ),
        "work.err.lead": ("Cần chọn người xử lý chính.", "Choose who leads the work."),
        "work.err.person": (
            "Người được chọn không phải lãnh đạo hoặc chuyên viên đang làm việc tại đơn vị.",
            "A person chosen is not an active leader or specialist of this unit.",
        ),
        "work.err.deadline": (
            "Hạn xử lý đã qua: chọn hôm nay hoặc một ngày sau.",
            "The deadline is past: choose today or a later day.",
        ),
        "work.err.deadline_form": (
            "Hạn xử lý không phải một ngày (dd/mm/yyyy).",
            "The deadline is not a date (dd/mm/yyyy).",
        ),
        "work.err.note": ("Ý kiến hoặc kết quả quá dài.", "The note or result is too long."),
        "work.err.assigner": (
            "Chỉ lãnh đạo (hoặc văn thư theo chỉ đạo của lãnh đạo) được phân công.",
            "Only a leader (or a clerk on a leader's instruction) assigns.",
        ),
        "work.err.instruction": (
            "Văn thư phân công cần ghi lãnh đạo chỉ đạo.",
            "A clerk who assigns names the leader who instructed it.",
        ),
        "work.err.not_lead": (
            "Văn bản này không giao cho bạn xử lý chính.",
            "This document is not assigned to you as its lead.",
        ),
        "work.err.changed": (
            "Văn bản vừa được người khác phân công: xem phân công mới rồi làm lại.",
            "Someone else has just assigned this document: read the new assignment first.",
        ),
        "work.err.completed": ("Văn bản đã hoàn thành xử lý.", "The document is completed."),
        "work.err.result": ("Cần ghi kết quả xử lý.", "Write what was done."),
        "work.err.answer": (
            "Không có văn bản đi với mã này.",
            "There is no outgoing document with this id.",
        ),
        "work.err.state": (
            "Văn bản chưa vào sổ hoặc không còn ở trạng thái cho phép việc này.",
            "The document is not registered, or no longer in a state that allows this.",
        ),
        "work.err.refused": ("Chưa thực hiện được, hãy thử lại.", "Not done: try again."),
        "work.dept.title": ("Phòng ban", "Departments"),
        "work.dept.name": ("Tên phòng ban", "Department"),
        "work.dept.members": ("Người trong phòng", "Members"),
        "work.dept.add": ("Thêm phòng ban", "Add a department"),
        "work.dept.member": ("Xếp người vào phòng ban", "Put a user in a department"),
        "work.dept.none": ("(không thuộc phòng nào)", "(none)"),
        "work.dept.added": ("Đã thêm phòng ban {name}.", "Department {name} added."),
        "work.dept.member_set": ("Đã cập nhật phòng ban của {name}.", "{name}'s department set."),
        "work.dept.exists": ("Phòng ban này đã có.", "This department already exists."),
        "work.dept.unknown": (
            "Không có người dùng hoặc phòng ban này.",
            "No such user or department.",
        ),
        "work.dept.bad_name": (
            "Tên phòng ban cần từ 1 đến {max} ký tự.",
            "A department's name has 1 to {max} characters.",
        ),
    }
)

# Refusals (docs/PROTOCOL.md 16.4) that say the receiver could not read what it was sent.
UNREADABLE_REFUSALS = frozenset(
    {
        "DecodeError",
        "InvalidField",
        "UnknownVersion",
        "UnknownKind",
        "DecryptionError",
        "TruncatedStreamError",
        "MalformedRequest",
    }
)


def refusal_key(error_name: str | None) -> str:
    """The catalogue key that explains a destination's refusal `error_name` to a clerk."""
    if error_name in UNREADABLE_REFUSALS:
        return "refusal.unreadable"
    key = f"refusal.{error_name}"
    return key if key in CATALOGUE else "refusal.other"


def has(key: str) -> bool:
    return key in CATALOGUE


def status_name(lang: str, code: int) -> str:
    """The name of status `code` ("Đã vào sổ"), or its two digits when it has none."""
    key = f"status.{int(code):02d}"
    return translate(lang, key) if key in CATALOGUE else f"{int(code):02d}"


def translate(lang: str, key: str, **values: Any) -> str:
    """The text of `key` in `lang` with `values` filled in; the key itself if unknown."""
    pair = CATALOGUE.get(key)
    if pair is None:
        return key
    text = pair[1] if lang == "en" else pair[0]
    return text.format(**values) if values else text

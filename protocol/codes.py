"""The enumerations of the wire format: status codes, urgency and confidentiality levels."""

from enum import IntEnum


class StatusCode(IntEnum):
    """Status of a document at a recipient, numbered as the national status codes.

    The numbering follows the status messages of the national document axis
    (QCVN 102:2016, status of a document after registration).
    """

    ARRIVED = 1  # durably stored; carries the hash of the envelope bytes received
    REJECTED = 2  # returned with a reason
    ACCEPTED = 3  # registered in the incoming register; carries the incoming number
    ASSIGNED = 4  # passed by the leadership to a department or person
    IN_PROGRESS = 5
    COMPLETED = 6
    RECALL_REQUESTED = 13  # sent by the sender: please recall (thu hồi)
    # 15 and 16 answer a recall, or an update or replacement (edXML has one pair of codes
    # for both; protocol.states.answer_of says which one a status answers).
    RECALL_AGREED = 15
    RECALL_REFUSED = 16

    @property
    def label_vi(self) -> str:
        return _LABELS_VI[self]

    def label_vi_answering(self, answers: str | None) -> str:
        """The Vietnamese label of this status when it answers `answers` ("recall",
        "update", "replace" or None): 15 is "Đồng ý cập nhật" about an update."""
        return _ANSWER_LABELS_VI.get((self, answers or ""), _LABELS_VI[self])


_LABELS_VI = {
    StatusCode.ARRIVED: "Đã đến",
    StatusCode.REJECTED: "Từ chối",
    StatusCode.ACCEPTED: "Đã vào sổ",
    StatusCode.ASSIGNED: "Đã phân công",
    StatusCode.IN_PROGRESS: "Đang xử lý",
    StatusCode.COMPLETED: "Hoàn thành",
    StatusCode.RECALL_REQUESTED: "Đề nghị thu hồi",
    # One name per code (docs/CLERK.md); what a 15 or 16 agrees to is told by what it answers.
    StatusCode.RECALL_AGREED: "Đồng ý",
    StatusCode.RECALL_REFUSED: "Từ chối",
}
_ANSWER_LABELS_VI = {
    (StatusCode.RECALL_AGREED, "recall"): "Đồng ý thu hồi",
    (StatusCode.RECALL_REFUSED, "recall"): "Từ chối thu hồi",
    (StatusCode.RECALL_AGREED, "update"): "Đồng ý cập nhật",
    (StatusCode.RECALL_REFUSED, "update"): "Từ chối cập nhật",
    (StatusCode.RECALL_AGREED, "replace"): "Đồng ý thay thế",
    (StatusCode.RECALL_REFUSED, "replace"): "Từ chối thay thế",
}


class Urgency(IntEnum):
    """Độ khẩn (Nghị định 30/2020/NĐ-CP): shown first and visibly when above NORMAL."""

    NORMAL = 0  # Thường
    URGENT = 1  # Khẩn
    VERY_URGENT = 2  # Thượng khẩn
    FLASH = 3  # Hỏa tốc
    FLASH_SCHEDULED = 4  # Hỏa tốc hẹn giờ (edXML Priority 4): with the time it must arrive by


class Confidentiality(IntEnum):
    """Độ mật: SECRET and above may travel only where the node's configuration allows it."""

    NORMAL = 0  # Thường
    SECRET = 1  # Mật
    TOP_SECRET = 2  # Tối mật
    ABSOLUTE_SECRET = 3  # Tuyệt mật

"""A post's images: checked (type, size, pixels) before anything is saved, stored through the
default storage with a thumbnail, and served only through the post's rights.

Weibo's share takes JPEG, GIF or PNG under 5 MB (20005/20006, PLATFORM_APIS §2.3); we check
the same, by the file's content (Pillow), never by its name or the browser's content type."""

from __future__ import annotations

import io
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.utils.translation import gettext as _

from guanwei.core.errors import ActionError

MAX_IMAGES = 9
MAX_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a decompression bomb is refused before it is decoded
MIN_SIDE = 10
THUMB = (240, 240)
FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif"}


@dataclass
class CheckedImage:
    data: bytes
    name: str
    mime: str
    width: int
    height: int
    thumb: bytes


def check_image(data: bytes, name: str, field: str = "images") -> CheckedImage:
    """The image if it is one Weibo takes; else an ActionError naming the file and the rule."""
    from PIL import Image, UnidentifiedImageError

    label = name[:60] or _("图片")
    if len(data) > MAX_BYTES:
        raise ActionError(_("%(name)s 超过 5 MB（微博的上限）。") % {"name": label}, field)
    try:
        with Image.open(io.BytesIO(data)) as probe:
            kind = probe.format or ""
            width, height = probe.size
            if kind not in FORMATS:
                raise ActionError(_("%(name)s 不是 JPEG、PNG 或 GIF 图片。") % {"name": label}, field)
            if width * height > MAX_PIXELS:
                raise ActionError(_("%(name)s 像素过多（%(w)d×%(h)d）。") % {"name": label, "w": width, "h": height}, field)
            if min(width, height) < MIN_SIDE:
                raise ActionError(_("%(name)s 太小（%(w)d×%(h)d）。") % {"name": label, "w": width, "h": height}, field)
            probe.verify()
        with Image.open(io.BytesIO(data)) as image:
            image.seek(0)
            thumb = image.convert("RGB")
            thumb.thumbnail(THUMB)
            out = io.BytesIO()
            thumb.save(out, "JPEG", quality=80)
    except ActionError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise ActionError(_("%(name)s 无法读取：不是完整的图片文件。") % {"name": label}, field) from None
    return CheckedImage(data, name[:100], FORMATS[kind], width, height, out.getvalue())


def check_images(files: list[tuple[bytes, str]], already: int = 0) -> list[CheckedImage]:
    if len(files) + already > MAX_IMAGES:
        raise ActionError(_("每条最多 %(n)d 张图片。") % {"n": MAX_IMAGES}, "images")
    return [check_image(data, name) for data, name in files]


def store(post: object, checked: list[CheckedImage], start: int = 0) -> None:
    from guanwei.publishing.models import PostImage

    for i, image in enumerate(checked, start=start):
        row = PostImage(post=post, position=i, mime=image.mime, width=image.width, height=image.height,
                        size=len(image.data), name=image.name)  # fmt: skip
        ext = {"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif"}[image.mime]
        row.file.save(f"image{ext}", ContentFile(image.data), save=False)
        row.thumb.save("thumb.jpg", ContentFile(image.thumb), save=False)
        row.save()

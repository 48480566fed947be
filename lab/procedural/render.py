"""Draw a ``FaceParams`` as an anti-aliased cartoon face with OpenCV.

Shapes are filled with LINE_AA polygons at ``supersample`` times the output size, with
sub-pixel vertex precision, then reduced with INTER_AREA. Nothing here is random: the image is
a pure function of the parameters.
"""

from __future__ import annotations

import cv2
import numpy as np

from lab.procedural.expression import ActionUnits
from lab.procedural.features import (
    EYE_Y,
    EyeShape,
    MouthShape,
    brow_polygon,
    clipped_disc,
    eye_shape,
    mouth_shape,
    mouth_y,
    nose_shape,
    wrinkles,
)
from lab.procedural.geometry import HEAD_Z, MAX_YAW, HeadShape, View, clip, xy
from lab.procedural.hair import hair_shapes
from lab.procedural.identity import BeardStyle, GlassesStyle, HairStyle, Identity
from lab.procedural.params import FaceParams

Rgb = tuple[float, float, float]  # 0..255, in the image's RGB order

_SHIFT = 4  # fractional bits of the vertex coordinates passed to OpenCV
_FIX = float(1 << _SHIFT)
_WHITE = (246.0, 244.0, 238.0)
_MOUTH_DARK = (70.0, 18.0, 22.0)
_TONGUE = (196.0, 96.0, 104.0)
_LASH = (25.0, 18.0, 16.0)


def _rgb(color: tuple[float, float, float], k: float = 1.0) -> Rgb:
    """An identity colour (0..1) scaled by ``k`` as an OpenCV colour."""
    c = clip(np.asarray(color) * (255.0 * k), 0.0, 255.0)
    return (float(c[0]), float(c[1]), float(c[2]))


def _mix(a: Rgb, b: Rgb, t: float) -> Rgb:
    return (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t)


class _Scene:
    """Draw calls in painter's order.

    Points on the face surface are projected together in one pass when the scene is drawn,
    which is most of the speed of the renderer. A polygon is a list of parts that are joined.
    """

    __slots__ = ("view", "head", "unit", "ops", "arrays", "pending")

    def __init__(self, view: View, head: HeadShape) -> None:
        self.view = view
        self.head = head
        self.unit = view.side / 256.0  # line widths are given for a 256-pixel canvas
        self.ops: list[tuple[bool, list[tuple[int, ...]], Rgb, int, bool]] = []
        self.arrays: list[np.ndarray | None] = []
        self.pending: list[tuple[int, np.ndarray, np.ndarray | float]] = []

    def surface(self, pts: np.ndarray, lift: np.ndarray | float = 0.0) -> int:
        self.arrays.append(None)
        self.pending.append((len(self.arrays) - 1, pts, lift))
        return len(self.arrays) - 1

    def pixels(self, pts: np.ndarray) -> int:
        self.arrays.append(pts)
        return len(self.arrays) - 1

    def fill(self, polys: list[int | tuple[int, ...]], color: Rgb) -> None:
        self.ops.append((True, [p if isinstance(p, tuple) else (p,) for p in polys], color, 0, False))

    def stroke(self, lines: list[int], color: Rgb, width: float, closed: bool = False) -> None:
        self.ops.append((False, [(p,) for p in lines], color, max(1, round(width * self.unit)), closed))

    def draw(self, img: np.ndarray) -> None:
        if self.pending:
            pts = np.concatenate([p for _, p, _ in self.pending])
            sizes = [len(p) for _, p, _ in self.pending]
            lift = np.repeat([h if isinstance(h, float) else 0.0 for _, _, h in self.pending], sizes)
            start = 0
            for (_, _, h), n in zip(self.pending, sizes, strict=True):
                if not isinstance(h, float):
                    lift[start : start + n] = h
                start += n
            fixed = np.round(self.view.surface(self.head, pts, lift) * _FIX).astype(np.int32)
            start = 0
            for index, p, _ in self.pending:
                self.arrays[index] = fixed[start : start + len(p)]
                start += len(p)
        for i, a in enumerate(self.arrays):
            if a.dtype != np.int32:
                self.arrays[i] = np.round(a * _FIX).astype(np.int32)
        arrays = self.arrays
        for is_fill, parts, color, width, closed in self.ops:
            polys = [arrays[p[0]] if len(p) == 1 else np.concatenate([arrays[i] for i in p]) for p in parts]
            if is_fill:
                cv2.fillPoly(img, polys, color, cv2.LINE_AA, _SHIFT)
            else:
                cv2.polylines(img, polys, closed, color, width, cv2.LINE_AA, _SHIFT)


def light_direction(identity: Identity) -> np.ndarray:
    """Unit vector towards the light in image coordinates (y down); angle 0 is straight above."""
    a = identity.light_angle * 0.75 * np.pi
    return np.array([np.sin(a), -np.cos(a)])


def _background(identity: Identity, side: int) -> np.ndarray:
    a = identity.background_angle * np.pi
    g = np.linspace(-1.0, 1.0, 6)
    t = 0.5 + 0.35 * (np.sin(a) * g[None, :] + np.cos(a) * g[:, None])
    top, bottom = np.asarray(identity.background_top), np.asarray(identity.background_bottom)
    small = (255.0 * (top + (bottom - top) * clip(t, 0.0, 1.0)[..., None])).astype(np.uint8)
    return cv2.resize(small, (side, side), interpolation=cv2.INTER_LINEAR)


def _outward_normals(pts: np.ndarray) -> np.ndarray:
    tangent = np.roll(pts, -1, 0) - np.roll(pts, 1, 0)
    normal = xy(tangent[:, 1], -tangent[:, 0])
    normal /= np.linalg.norm(normal, axis=1, keepdims=True) + 1e-9
    if np.sum(normal * (pts - pts.mean(0))) < 0:
        normal = -normal
    return normal


def _shade_band(outline: np.ndarray, light: np.ndarray, width: float) -> np.ndarray:
    """Ring along the outline, as wide as ``width`` pixels on the side facing away from the light."""
    normal = _outward_normals(outline)
    amount = clip(-1.4 * (normal @ light) + 0.1, 0.0, 1.0)
    inner = outline - normal * (width * amount)[:, None]
    return np.concatenate([outline, outline[:1], inner[:1], inner[::-1]])


def render_face(params: FaceParams, size: int = 128, supersample: int = 2) -> np.ndarray:
    """The face as a ``size`` x ``size`` x 3 uint8 RGB image."""
    if not 16 <= size <= 2048 or not 1 <= supersample <= 4:
        raise ValueError(f"size={size} must be in [16, 2048] and supersample={supersample} in [1, 4]")
    side = size * supersample
    ident, aus = params.identity, params.aus
    view = View(side, params.yaw)
    light = light_direction(ident)
    far = 1.0 if view.sin > 0 else -1.0  # image side the face turns towards

    skin = _rgb(ident.skin_color)
    shadow = _rgb(ident.skin_color, 0.84 - 0.1 * ident.light_strength)
    line = _rgb(ident.skin_color, 0.55)
    hair = _rgb(ident.hair_color)
    hair_dark = _rgb(ident.hair_color, 0.72)

    mouth = mouth_shape(ident, aus)
    head = HeadShape(ident.face_width, ident.face_length, ident.jaw_width, ident.chin_squareness, mouth.chin_drop)
    scene = _Scene(view, head)
    outline = head.outline()
    face_px = view.face_outline(head, outline)
    styles = hair_shapes(ident.hair_style, head, light)

    # Body and everything behind the face.
    scene.fill([scene.pixels(view.flat(_SHOULDERS))], _rgb(ident.clothing_color))
    if styles.back is not None:
        scene.fill([scene.pixels(view.silhouette(styles.back, HEAD_Z))], hair_dark)
    neck = _NECK * np.array([ident.face_width, 1.0])
    scene.fill([scene.pixels(view.silhouette(neck, -0.3))], shadow)
    collar = view.silhouette(np.array([neck[3], [0.0, 1.5], neck[2]]), -0.3)
    scene.stroke([scene.pixels(collar)], _rgb(ident.clothing_color, 0.7), 3.0)
    _draw_ears(scene, view, head, skin, line, far)

    # Face, its shading and the folds the AUs make.
    face = scene.pixels(face_px)
    scene.fill([face], skin)
    band = (0.05 + 0.08 * ident.light_strength) * view.scale
    scene.fill([scene.pixels(_shade_band(face_px, light, band))], shadow)
    scene.stroke([face], line, 1.5, closed=True)
    eye_r = eye_shape(ident, aus, 1)
    eye_l = eye_shape(ident, aus, -1)
    for wrinkle in wrinkles(ident, aus, eye_r, mouth):
        if wrinkle.strength > 0.01:
            scene.stroke([scene.surface(p) for p in wrinkle.lines], _mix(skin, line, 0.6 * wrinkle.strength), 1.4)

    if ident.beard != BeardStyle.NONE:
        _draw_beard(scene, view, head, outline, mouth, ident, hair)
    _draw_nose(scene, view, ident, aus, light, shadow, line)
    _draw_mouth(scene, ident, mouth)
    for eye in (eye_l, eye_r):
        _draw_eye(scene, ident, eye, light, skin, line)

    # Hair in front of the face, then the brows on top of any fringe, then glasses.
    if styles.outer is not None:
        cap = (scene.pixels(view.silhouette(styles.outer, HEAD_Z)), scene.surface(styles.inner, 0.03))
        scene.fill([cap], hair)
        if styles.part is not None:
            scene.stroke([scene.surface(styles.part, 0.03)], hair_dark, 2.0)
    if styles.shine is not None:
        base = hair if styles.outer is not None else skin
        scene.stroke([scene.pixels(view.silhouette(styles.shine, HEAD_Z))], _mix(base, _WHITE, 0.22), 4.0)
    brow_color = _rgb(ident.hair_color, 0.6) if ident.hair_style != HairStyle.BALD else _mix(line, hair, 0.5)
    scene.fill([scene.surface(brow_polygon(ident, aus, s), 0.02) for s in (-1, 1)], brow_color)
    if ident.glasses != GlassesStyle.NONE:
        _draw_glasses(scene, head, ident)

    img = _background(ident, side)
    scene.draw(img)
    if supersample > 1:
        img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    return img


_SHOULDERS = np.array(
    [[-2.4, 2.2], [-2.2, 1.55], [-1.3, 1.2], [-0.5, 1.1], [0.5, 1.1], [1.3, 1.2], [2.2, 1.55], [2.4, 2.2]]
)
_NECK = np.array([[0.42, 0.3], [0.44, 1.05], [0.67, 1.3], [-0.67, 1.3], [-0.44, 1.05], [-0.42, 0.3]])
_EAR_Y = np.linspace(-0.14, 0.26, 7)
_EAR_BUMP = 0.12 * np.sin(np.pi * np.linspace(0.0, 1.0, 7)) ** 0.7 * np.array([1.0, 1.1, 1.1, 1.0, 0.85, 0.7, 1.0])
_TURN_NORM = 1.0 / np.sin(MAX_YAW)


def _draw_ears(scene: _Scene, view: View, head: HeadShape, skin: Rgb, line: Rgb, far: float) -> None:
    y = _EAR_Y
    w = head.half_width(y)
    turn = abs(view.sin) * _TURN_NORM
    center_z = head.slice_center(y, w)
    both_z = np.concatenate([center_z, center_z[::-1]])
    for side in (-1.0, 1.0):
        vis = 1.0 - (0.85 if side == far else 0.3) * turn
        edge = xy(side * (w + _EAR_BUMP * vis), y)
        base = xy(side * (w - 0.06), y)[::-1]
        scene.fill([scene.pixels(view.silhouette(np.concatenate([edge, base]), both_z))], skin)
        fold = xy(side * (w + 0.45 * _EAR_BUMP * vis), y)[1:-1]
        scene.stroke([scene.pixels(view.silhouette(fold, center_z[1:-1]))], line, 1.5)


def _draw_eye(scene: _Scene, ident: Identity, eye: EyeShape, light: np.ndarray, skin: Rgb, line: Rgb) -> None:
    scene.fill([scene.surface(np.concatenate([eye.crease, eye.upper[::-1]]))], _mix(skin, line, 0.18))
    scene.stroke([scene.surface(eye.crease[1:-1])], _mix(skin, line, 0.6), 1.2)
    if float(np.max(eye.lower[:, 1] - eye.upper[:, 1])) > 1e-4:
        scene.fill([scene.surface(np.concatenate([eye.upper, eye.lower[::-1]]))], _WHITE)
        if eye.iris is not None:
            scene.fill([scene.surface(eye.iris)], _rgb(ident.eye_color))
        if eye.pupil is not None:
            scene.fill([scene.surface(eye.pupil)], (18.0, 14.0, 14.0))
        cx, cy = eye.center
        glint = clipped_disc(
            eye, cx + 0.45 * eye.iris_r * light[0], cy + 0.45 * eye.iris_r * light[1], 0.32 * eye.iris_r
        )
        if glint is not None:
            scene.fill([scene.surface(glint, 0.01)], (255.0, 255.0, 255.0))
    lash = eye.upper
    wing = np.array([lash[-3], lash[-1] + np.array([eye.side * 0.035, -0.02]), lash[-2]])
    scene.stroke([scene.surface(lash)], _LASH, 3.2)
    scene.fill([scene.surface(wing)], _LASH)
    scene.stroke([scene.surface(eye.lower[1:-1])], _mix(skin, line, 0.75), 1.4)


def _draw_nose(
    scene: _Scene, view: View, ident: Identity, aus: ActionUnits, light: np.ndarray, shadow: Rgb, line: Rgb
) -> None:
    nose = nose_shape(ident, aus, light[0])
    scene.fill([scene.surface(nose.shade, nose.shade_lift)], shadow)
    scene.stroke([scene.surface(nose.base, nose.base_lift)], line, 1.8)
    scene.fill([scene.surface(n, 0.12) for n in nose.nostrils], _rgb(ident.skin_color, 0.35))
    turn = abs(view.sin) * _TURN_NORM
    if turn > 0.02:
        scene.stroke(
            [scene.surface(nose.ridge, nose.ridge_lift)], _mix(_rgb(ident.skin_color), line, min(1.0, turn)), 1.6
        )


def _draw_mouth(scene: _Scene, ident: Identity, mouth: MouthShape) -> None:
    if mouth.opening is not None:
        scene.fill([scene.surface(mouth.opening)], _MOUTH_DARK)
        if mouth.tongue is not None:
            scene.fill([scene.surface(mouth.tongue)], _TONGUE)
        teeth = [t for t in (mouth.upper_teeth, mouth.lower_teeth) if t is not None]
        if teeth:
            scene.fill([scene.surface(t) for t in teeth], _WHITE)
    scene.fill([scene.surface(mouth.upper_lip)], _rgb(ident.lip_color, 0.9))
    scene.fill([scene.surface(mouth.lower_lip)], _rgb(ident.lip_color))
    scene.stroke([scene.surface(mouth.lip_line)], _rgb(ident.lip_color, 0.5), 1.5)


def _draw_beard(
    scene: _Scene, view: View, head: HeadShape, outline: np.ndarray, mouth: MouthShape, ident: Identity, color: Rgb
) -> None:
    polys: list[int | tuple[int, ...]] = []
    my = mouth_y(ident)
    chin = head.bottom
    if ident.beard in (BeardStyle.FULL, BeardStyle.GOATEE):
        start = 0.0 if ident.beard == BeardStyle.FULL else 0.55 * chin
        jaw = outline[outline[:, 1] > start]  # right cheek, around the chin, left cheek
        t = clip((jaw[:, 1] - start) / (chin - start), 0.0, 1.0)
        center = np.array([0.0, my + 0.05 + mouth.chin_drop])
        inner = jaw + (center - jaw) * (0.12 + 0.55 * t**1.5)[:, None]
        outer = scene.pixels(view.face_outline(head, jaw * np.array([1.02, 1.0])))
        polys.append((outer, scene.surface(inner[::-1])))
    upper = mouth.upper_lip[: len(mouth.upper_lip) // 2]
    u = np.linspace(-1.0, 1.0, len(upper))
    top = upper - xy(0.0 * u, 0.05 + 0.025 * (1 - u**2))
    bottom = upper + xy(0.06 * u, 0.01 + 0.05 * u**4)
    polys.append(scene.surface(np.concatenate([top, bottom[::-1]])))
    scene.fill(polys, color)


_GLASS_A = np.linspace(0.0, 2 * np.pi, 24, endpoint=False)


def _draw_glasses(scene: _Scene, head: HeadShape, ident: Identity) -> None:
    s = ident.eye_size
    ex = 0.41 * ident.eye_spacing
    rx, ry = 0.25 * s, 0.17 * s
    c, sn = np.cos(_GLASS_A), np.sin(_GLASS_A)
    if ident.glasses == GlassesStyle.SQUARE:
        c, sn = np.sign(c) * np.abs(c) ** 0.45, np.sign(sn) * np.abs(sn) ** 0.45
    lift = 0.1
    lenses = [scene.surface(xy(side * ex + rx * c, EYE_Y - 0.01 + ry * sn), lift) for side in (-1.0, 1.0)]
    color = _rgb(ident.glasses_color)
    scene.stroke(lenses, color, 3.0, closed=True)
    bridge = np.array([[-(ex - rx), EYE_Y - 0.04], [0.0, EYE_Y - 0.07], [ex - rx, EYE_Y - 0.04]])
    arms = [
        np.array([[side * (ex + rx), EYE_Y - 0.03], [side * 0.98 * head.width, EYE_Y - 0.05]]) for side in (-1.0, 1.0)
    ]
    parts = [scene.surface(bridge, lift)] + [scene.surface(arm, np.array([lift, 0.0])) for arm in arms]
    scene.stroke(parts, color, 3.0)

"""Run by Blender's Python (bpy), never by pytest: the jobs of tests/test_blender.py, as a user would do them.

Usage: python blender_client.py JOBS.json RESULT.json. JOBS is a list of
{"import": BVH, "frames": [0-based source frames]}: import the BVH and record every bone's world
head position (Blender's axes, metres) at those frames; or
{"convert": BVH, "fbx": OUT.fbx, "glb": OUT.glb}: import the BVH and export it as FBX and as a
skinned GLB (a mesh of one small triangle per bone, bound to the armature, since glTF exports a skeleton only
through a skin).
"""

from __future__ import annotations

import json
import sys

import bpy
from mathutils import Vector


def main() -> None:
    jobs = json.load(open(sys.argv[1]))
    results = []
    for job in jobs:
        bpy.ops.wm.read_factory_settings(use_empty=True)
        source = job.get("import") or job["convert"]
        bpy.ops.import_anim.bvh(filepath=source, update_scene_fps=True, update_scene_duration=True)
        armature = next(o for o in bpy.data.objects if o.type == "ARMATURE")
        if "import" in job:
            results.append(_bone_heads(armature, job["frames"]))
        else:
            _bind_mesh(armature)
            bpy.ops.export_scene.fbx(filepath=job["fbx"], use_selection=False)
            bpy.ops.export_scene.gltf(filepath=job["glb"], export_format="GLB", export_animations=True)
            results.append({"fps": bpy.context.scene.render.fps / bpy.context.scene.render.fps_base})
    json.dump(results, open(sys.argv[2], "w"))


def _bone_heads(armature, frames: list[int]) -> dict:
    heads = []
    for frame in frames:
        bpy.context.scene.frame_set(frame + 1)  # the BVH importer puts source frame 0 on scene frame 1
        world = armature.matrix_world
        heads.append([list(world @ bone.head) for bone in armature.pose.bones])
    return {"names": [bone.name for bone in armature.pose.bones], "heads": heads}


def _bind_mesh(armature) -> None:
    bones = armature.data.bones
    corners = ((0.0, 0.0, 0.0), (0.01, 0.0, 0.0), (0.0, 0.01, 0.0))  # a small triangle at each bone's head
    points = [tuple(armature.matrix_world @ bone.head_local + Vector(corner)) for bone in bones for corner in corners]
    mesh = bpy.data.meshes.new("body")
    mesh.from_pydata(points, [], [(3 * i, 3 * i + 1, 3 * i + 2) for i in range(len(bones))])
    body = bpy.data.objects.new("body", mesh)
    bpy.context.scene.collection.objects.link(body)
    for index, bone in enumerate(bones):
        body.vertex_groups.new(name=bone.name).add([3 * index, 3 * index + 1, 3 * index + 2], 1.0, "REPLACE")
    body.parent = armature
    body.matrix_parent_inverse = armature.matrix_world.inverted()
    body.modifiers.new("armature", "ARMATURE").object = armature


if __name__ == "__main__":
    main()

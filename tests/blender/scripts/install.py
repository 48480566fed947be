from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

zip_path = sys.argv[1]
repos = {r.module: r.directory for r in bpy.context.preferences.extensions.repos}
bpy.ops.extensions.package_install_files(filepath=zip_path, repo='user_default', enable_on_install=True)
enabled = MODULE in bpy.context.preferences.addons
result(enabled=enabled, repo_dir=repos.get('user_default'), version=list(bpy.app.version),
       user_extensions=bpy.utils.user_resource("EXTENSIONS"))

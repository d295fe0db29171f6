# Copyright 2026 The harpc Authors
# SPDX-License-Identifier: Apache-2.0

"""Packaging: harpc as a user gets it (docs/install.md).

  InstallTest          `cmake --install` into a temporary prefix: the layout,
                       self-contained headers, `harpc --version`
  CMakeConsumerTest    examples/ built out of tree with find_package(harpc)
                       against that prefix, shared and static, and run
  PkgConfigConsumerTest  the examples compiled with `pkg-config --cflags --libs
                       harpc` (and --static), and run
  DebianPackageTest    `cpack -G DEB`: both packages' control data and files,
                       and the packaged `harpc --version` run from `dpkg -x`

Every built echo_server listens on 127.0.0.1 and a free port (port 0) and is
stopped by PID; its echo_client must get its call answered.

Usage: /usr/bin/python3 packaging_test.py BUILD_DIR SOURCE_DIR VERSION LIBDIR [unittest args]
(run by ctest after a build: it installs and packages what the build made).
"""

import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "interop"))
from interop_util import Child  # noqa: E402

if len(sys.argv) < 5:
    sys.exit(__doc__)
BUILD, SOURCE, VERSION, LIBDIR = sys.argv[1:5]
del sys.argv[1:5]  # leave the rest to unittest
MAJOR_MINOR = ".".join(VERSION.split(".")[:2])
SONAME = f"libharpc.so.{MAJOR_MINOR}"
VERSION_LINE = re.compile(rf"^harpc {re.escape(VERSION)} \(([0-9a-f]{{7,40}}(-dirty)?|unknown)\)$")
HEADERS = sorted(os.path.basename(h) for h in glob.glob(os.path.join(SOURCE, "include", "harpc", "*.h")))
COMPILE_TIMEOUT = 300  # seconds for one compile or configure, on a loaded 2-core machine


def run(argv, cwd=None, env=None, timeout=COMPILE_TIMEOUT):
    """Runs a command; fails the test with its output unless it exits 0."""
    p = subprocess.run(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=timeout)
    if p.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {p.returncode}\nstdout: {p.stdout[-4000:]}\n"
                             f"stderr: {p.stderr[-4000:]}")
    return p.stdout


class PackagingCase(unittest.TestCase):
    """Each test in a temporary directory of its own, removed afterwards. Its
    compiles go through ccache when there is one, with paths inside the
    directory made relative, so that a second run is all cache hits."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="harpc-packaging-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.env = dict(os.environ, CCACHE_BASEDIR=self.tmp)
        self.ccache = shutil.which("ccache")

    def install(self):
        prefix = os.path.join(self.tmp, "prefix")
        run(["cmake", "--install", BUILD, "--prefix", prefix])
        return prefix

    def assert_version_line(self, harpc):
        out = run([harpc, "--version"], timeout=30)
        self.assertRegex(out.strip(), VERSION_LINE)
        return out.strip()

    def assert_libharpc(self, program, shared_dir):
        """ldd: libharpc.so.<major>.<minor> resolved in shared_dir, or no
        libharpc at all when shared_dir is None (linked statically)."""
        out = run(["ldd", program], timeout=30)
        found = re.search(rf"^\s*{re.escape(SONAME)} => (\S+)", out, re.M)
        if shared_dir is None:
            self.assertNotIn("libharpc", out)
        else:
            self.assertIsNotNone(found, out)
            self.assertEqual(os.path.dirname(os.path.realpath(found.group(1))),
                             os.path.realpath(shared_dir), out)

    def assert_echo_pair_works(self, server_binary, client_binary):
        server = Child([server_binary, "127.0.0.1:0"])
        try:
            out = run([client_binary, f"list://{server.address}"], timeout=60)
            self.assertIn(f'{server.address} answered {{"hello":"world"}}', out)
            for i in range(3):
                self.assertIn(f'async {i}: {{"i":{i}}}', out)
        finally:
            server.stop()  # SIGTERM by PID: a graceful shutdown, exit 0
        self.assertEqual(server.proc.returncode, 0, server.stderr())


class InstallTest(PackagingCase):
    def test_layout(self):
        prefix = self.install()
        lib = os.path.join(prefix, LIBDIR)
        for path in ["bin/harpc", f"{LIBDIR}/libharpc.so", f"{LIBDIR}/{SONAME}",
                     f"{LIBDIR}/libharpc.so.{VERSION}", f"{LIBDIR}/libharpc.a",
                     f"{LIBDIR}/cmake/harpc/harpcConfig.cmake",
                     f"{LIBDIR}/cmake/harpc/harpcConfigVersion.cmake",
                     f"{LIBDIR}/cmake/harpc/harpcTargets.cmake",
                     f"{LIBDIR}/pkgconfig/harpc.pc"]:
            self.assertTrue(os.path.exists(os.path.join(prefix, path)), path)
        self.assertEqual(os.readlink(os.path.join(lib, "libharpc.so")), SONAME)
        self.assertEqual(sorted(os.listdir(os.path.join(prefix, "include", "harpc"))), HEADERS)
        soname = run(["objdump", "-p", os.path.join(lib, "libharpc.so")], timeout=30)
        self.assertRegex(soname, rf"SONAME\s+{re.escape(SONAME)}\n")

    def test_shared_library_exports(self):
        """Its own definitions are harpc's, the API is there, and the layers
        that are not the library (apps, cli) are not."""
        prefix = self.install()
        out = run(["nm", "-DC", "--defined-only", os.path.join(prefix, LIBDIR, SONAME)], timeout=60)
        symbols = [line.split(" ", 2) for line in out.splitlines() if line.count(" ") >= 2]
        strong = [name for _, kind, name in symbols if kind in "TDBR"]
        self.assertEqual([n for n in strong if not n.startswith("harpc::")], [])
        for api in ("harpc::Server::Start(", "harpc::Channel::Call(", "harpc::Coordinator::"):
            self.assertTrue(any(n.startswith(api) for n in strong), api)
        for app in ("harpc::cli::", "harpc::RegisterEchoService(", "harpc::RegisterBankService(", "harpc::MakeTestPki("):
            self.assertFalse(any(n.startswith(app) for n in strong), app)

    def test_headers_include_only_std_boost_and_each_other(self):
        prefix = self.install()
        allowed = re.compile(r'#include (<[a-z_]+>|<boost/(json|asio)[a-z_/]*\.hpp>|"harpc/([a-z_]+\.h)")')
        for name in HEADERS:
            with open(os.path.join(prefix, "include", "harpc", name)) as f:
                for line in f:
                    if line.startswith("#include"):
                        m = allowed.match(line.strip())
                        self.assertIsNotNone(m, f"{name}: {line.strip()}")
                        if m.group(3):
                            self.assertIn(m.group(3), HEADERS, f"{name}: {line.strip()}")

    def test_version(self):
        prefix = self.install()
        installed = self.assert_version_line(os.path.join(prefix, "bin", "harpc"))
        self.assertEqual(installed, self.assert_version_line(os.path.join(BUILD, "harpc")))


class CMakeConsumerTest(PackagingCase):
    def build_examples(self, prefix, static):
        build = os.path.join(self.tmp, "static" if static else "shared")
        configure = ["cmake", "-S", os.path.join(SOURCE, "examples"), "-B", build,
                     f"-DCMAKE_PREFIX_PATH={prefix}", f"-DHARPC_EXAMPLES_STATIC={'ON' if static else 'OFF'}"]
        if shutil.which("ninja"):
            configure += ["-G", "Ninja"]
        if self.ccache:
            configure.append(f"-DCMAKE_CXX_COMPILER_LAUNCHER={self.ccache}")
        run(configure, env=self.env)
        run(["cmake", "--build", build], env=self.env)
        return os.path.join(build, "echo_server"), os.path.join(build, "echo_client")

    def test_find_package_shared(self):
        prefix = self.install()
        server, client = self.build_examples(prefix, static=False)
        self.assert_libharpc(server, os.path.join(prefix, LIBDIR))
        self.assert_libharpc(client, os.path.join(prefix, LIBDIR))
        self.assert_echo_pair_works(server, client)

    def test_find_package_static(self):
        prefix = self.install()
        server, client = self.build_examples(prefix, static=True)
        self.assert_libharpc(server, None)
        self.assert_libharpc(client, None)
        self.assert_echo_pair_works(server, client)


class PkgConfigConsumerTest(PackagingCase):
    def pkg_config(self, *args):
        return run(["pkg-config", *args, "harpc"], env=self.env, timeout=30).split()

    def test_pkg_config_shared_and_static(self):
        prefix = self.install()
        self.env["PKG_CONFIG_PATH"] = os.path.join(prefix, LIBDIR, "pkgconfig")
        self.assertEqual(self.pkg_config("--modversion"), [VERSION])
        libdir = self.pkg_config("--variable=libdir")[0]
        self.assertEqual(os.path.realpath(libdir), os.path.realpath(os.path.join(prefix, LIBDIR)))
        cflags, libs = self.pkg_config("--cflags"), self.pkg_config("--libs")
        # A static link names libharpc.a where the shared one says -lharpc.
        static_libs = ["-l:libharpc.a" if flag == "-lharpc" else flag
                       for flag in self.pkg_config("--static", "--libs")]
        compiler = ([self.ccache] if self.ccache else []) + ["g++"]
        programs = {}
        for example in ("echo_server", "echo_client"):
            obj = os.path.join(self.tmp, example + ".o")
            run(compiler + ["-std=c++20", *cflags, "-c", os.path.join(SOURCE, "examples", example + ".cc"),
                            "-o", obj], cwd=self.tmp, env=self.env)
            shared = os.path.join(self.tmp, example)
            run(["g++", obj, "-o", shared, *libs, f"-Wl,-rpath,{libdir}"], env=self.env)
            self.assert_libharpc(shared, libdir)
            static = os.path.join(self.tmp, example + "-static")
            run(["g++", obj, "-o", static, *static_libs], env=self.env)
            self.assert_libharpc(static, None)
            programs[example] = (shared, static)
        self.assert_echo_pair_works(programs["echo_server"][0], programs["echo_client"][0])
        self.assert_echo_pair_works(programs["echo_server"][1], programs["echo_client"][1])


class DebianPackageTest(PackagingCase):
    def control(self, deb, field):
        return run(["dpkg-deb", "--field", deb, field], timeout=30).strip()

    def test_cpack_deb(self):
        for tool in ("dpkg-deb", "dpkg-shlibdeps"):
            self.assertTrue(shutil.which(tool), f"{tool} not found: install dpkg-dev (scripts/setup)")
        run(["cpack", "--config", os.path.join(BUILD, "CPackConfig.cmake"), "-G", "DEB", "-B", self.tmp],
            cwd=self.tmp)
        arch = run(["dpkg", "--print-architecture"], timeout=30).strip()
        runtime = os.path.join(self.tmp, f"harpc_{VERSION}_{arch}.deb")
        dev = os.path.join(self.tmp, f"harpc-dev_{VERSION}_{arch}.deb")

        self.assertEqual(self.control(runtime, "Package"), "harpc")
        self.assertEqual(self.control(runtime, "Version"), VERSION)
        self.assertRegex(self.control(runtime, "Maintainer"), r"^.+ <[^ ]+@[^ ]+>$")
        depends = [d.split()[0] for d in self.control(runtime, "Depends").split(", ")]
        for package in ("libc6", "libstdc++6", "libssl3", "libsqlite3-0", "libboost-json1.81.0",
                        "libraft2", "libuv1"):
            self.assertIn(package, depends)
        self.assertTrue([d for d in depends if d.startswith("libspdlog1")], depends)  # Debian: libspdlog1.10-fmt9
        self.assertIn(f"libharpc {MAJOR_MINOR} harpc (= {VERSION})",
                      run(["dpkg-deb", "--info", runtime, "shlibs"], timeout=30))

        self.assertEqual(self.control(dev, "Package"), "harpc-dev")
        self.assertEqual(self.control(dev, "Version"), VERSION)
        dev_depends = self.control(dev, "Depends").split(", ")
        for package in (f"harpc (= {VERSION})", "libboost1.81-dev", "libboost-json1.81-dev", "libssl-dev",
                        "libsqlite3-dev", "libspdlog-dev", "libraft-dev"):
            self.assertIn(package, dev_depends)

        def files(deb):
            return {line.split()[5].lstrip(".") for line in run(["dpkg-deb", "--contents", deb], timeout=60)
                    .splitlines()}
        runtime_files, dev_files = files(runtime), files(dev)
        for path in ("/usr/bin/harpc", f"/usr/{LIBDIR}/{SONAME}", f"/usr/{LIBDIR}/libharpc.so.{VERSION}"):
            self.assertIn(path, runtime_files)
        for path in ([f"/usr/include/harpc/{h}" for h in HEADERS] +
                     [f"/usr/{LIBDIR}/libharpc.so", f"/usr/{LIBDIR}/libharpc.a",
                      f"/usr/{LIBDIR}/cmake/harpc/harpcConfig.cmake", f"/usr/{LIBDIR}/pkgconfig/harpc.pc"]):
            self.assertIn(path, dev_files)
        self.assertFalse(runtime_files & {f for f in dev_files if not f.endswith("/")},
                         "a file in both packages")

        # Unpacked, the packaged binary runs and says what the build says.
        root = os.path.join(self.tmp, "root")
        run(["dpkg", "-x", runtime, root], timeout=60)
        run(["dpkg", "-x", dev, root], timeout=60)
        self.assertEqual(self.assert_version_line(os.path.join(root, "usr", "bin", "harpc")),
                         self.assert_version_line(os.path.join(BUILD, "harpc")))
        # harpc.pc finds its prefix from where it lies.
        pc_env = dict(self.env, PKG_CONFIG_PATH=os.path.join(root, "usr", LIBDIR, "pkgconfig"))
        includedir = run(["pkg-config", "--variable=includedir", "harpc"], env=pc_env, timeout=30).strip()
        self.assertEqual(os.path.realpath(includedir), os.path.realpath(os.path.join(root, "usr", "include")))


if __name__ == "__main__":
    unittest.main()

#!/usr/bin/env python3
"""Keeps the templates' package versions in step with Directory.Packages.props.

The samples use central package management: their PackageReferences carry no version. A project made from a template
has no Directory.Packages.props, so each template.json replaces `PackageReference Include="X"` with
`PackageReference Include="X" Version="..."`, one generated symbol per package the sample references. This script
writes those symbols from Directory.Packages.props (and removes stale ones).

    python3 samples/ModelInService.Templates/sync-template-versions.py          # update the template.json files
    python3 samples/ModelInService.Templates/sync-template-versions.py --check  # exit 1 if one is out of date
"""
import json
import pathlib
import re
import sys
import xml.etree.ElementTree as ET

ROOT = pathlib.Path(__file__).resolve().parents[2]
PREFIX = "packageVersion_"


def central_versions():
    tree = ET.parse(ROOT / "Directory.Packages.props")
    return {e.get("Include"): e.get("Version") for e in tree.iter("PackageVersion")}


def main():
    check = "--check" in sys.argv[1:]
    versions = central_versions()
    stale = []
    for config in sorted(ROOT.glob("samples/*/.template.config/template.json")):
        sample = config.parent.parent
        csproj = sample / f"{sample.name}.csproj"
        if not csproj.exists():
            continue
        text = csproj.read_text(encoding="utf-8")
        # Package references without a Version attribute (central package management).
        packages = [m.group(1) for m in re.finditer(r'<PackageReference\s+Include="([^"]+)"(?![^>]*\bVersion=)', text)]
        template = json.loads(config.read_text(encoding="utf-8"))
        symbols = {k: v for k, v in template["symbols"].items() if not k.startswith(PREFIX)}
        for package in packages:
            if package not in versions:
                sys.exit(f"{csproj}: {package} has no PackageVersion in Directory.Packages.props")
            symbols[PREFIX + re.sub(r"\W", "_", package)] = {
                "type": "generated",
                "generator": "constant",
                "replaces": f'PackageReference Include="{package}"',
                "parameters": {"value": f'PackageReference Include="{package}" Version="{versions[package]}"'},
            }
        template["symbols"] = symbols
        updated = json.dumps(template, indent=2) + "\n"
        if updated != config.read_text(encoding="utf-8"):
            stale.append(str(config.relative_to(ROOT)))
            if not check:
                config.write_text(updated, encoding="utf-8")
    if stale:
        verb = "out of date" if check else "updated"
        print(f"{verb}: " + ", ".join(stale))
        if check:
            print("run: python3 samples/ModelInService.Templates/sync-template-versions.py")
            sys.exit(1)


if __name__ == "__main__":
    main()

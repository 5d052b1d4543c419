"""Compares one instrumented function in a template with the CLI's result for the same function.

usage: compare.py TEMPLATE HANDLER_OR_ID CLI_TEMPLATE CLI_ID [--untouched HANDLER ...]
Exits 1 with a diff when handler, variables, layers or the lambdascope tag differ.
"""

import json
import sys


def find(template: dict, key: str) -> tuple[str, dict]:
    resources = template["Resources"]
    if key in resources:
        return key, resources[key]["Properties"]
    for rid, res in resources.items():
        props = res.get("Properties", {})
        if res.get("Type") == "AWS::Lambda::Function" and (
            props.get("Environment", {}).get("Variables", {}).get("DD_LAMBDA_HANDLER") == key
            or props.get("Handler") == key
        ):
            return rid, props
    sys.exit(f"compare: no function {key} in the template")


def essentials(props: dict) -> dict:
    tags = props.get("Tags", [])
    if isinstance(tags, dict):
        tags = [{"Key": k, "Value": v} for k, v in tags.items()]
    return {
        "Handler": props.get("Handler"),
        "Variables": props.get("Environment", {}).get("Variables", {}),
        "Layers": props.get("Layers", []),
        "lambdascope_cli": [t["Value"] for t in tags if t["Key"] == "lambdascope_cli"],
    }


def main() -> None:
    template_path, key, cli_path, cli_id = sys.argv[1:5]
    untouched = sys.argv[6:] if len(sys.argv) > 5 and sys.argv[5] == "--untouched" else []
    with open(template_path) as f:
        template = json.load(f)
    with open(cli_path) as f:
        cli = json.load(f)
    rid, props = find(template, key)
    got, want = essentials(props), essentials(cli["Resources"][cli_id]["Properties"])
    if got != want:
        print(f"compare: {template_path} {rid} differs from the CLI's result")
        print(" got:", json.dumps(got, indent=1, sort_keys=True))
        print("want:", json.dumps(want, indent=1, sort_keys=True))
        sys.exit(1)
    for handler in untouched:
        _, other = find(template, handler)
        if "DD_LAMBDA_HANDLER" in other.get("Environment", {}).get("Variables", {}):
            sys.exit(f"compare: {handler} should have been left alone")
    print(f"compare: {rid} in {template_path} matches the CLI ({len(want['Layers'])} layers, "
          f"{len(want['Variables'])} variables, handler {want['Handler']})")


if __name__ == "__main__":
    main()

"""Reads template.yaml: the table, queues and secret to create locally, the functions'
environment, their SQS, stream and schedule event sources, and their HTTP API routes."""

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml


class _Tag:
    """A CloudFormation intrinsic (!Ref, !GetAtt, !Sub...) kept as data."""

    def __init__(self, name, value):
        self.name, self.value = name, value

    def __repr__(self):
        return f"!{self.name} {self.value!r}"


class _Loader(yaml.SafeLoader):
    pass


def _construct(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return _Tag(suffix, value)


_Loader.add_multi_constructor("!", _construct)


def load(path):
    return yaml.load(Path(path).read_text(), Loader=_Loader)


@dataclass
class SqsMapping:
    function: str  # binary name
    queue: str  # logical id of the queue
    batch_size: int
    window: int


@dataclass
class StreamMapping:
    function: str  # binary name
    batch_size: int
    filters: list  # event-filtering patterns (parsed JSON)
    max_retries: int
    on_failure: str | None  # logical id of the on-failure queue


@dataclass
class ScheduleMapping:
    function: str  # binary name
    period: float  # seconds between invocations, from the `rate(...)` expression
    input: dict


RATE_UNITS = {"minute": 60, "hour": 3600, "day": 86400}


@dataclass
class Template:
    doc: dict
    resources: dict = field(init=False)

    def __post_init__(self):
        self.resources = self.doc["Resources"]

    def of_type(self, kind):
        return {k: v for k, v in self.resources.items() if v["Type"] == kind}

    def table(self):
        (name, table), = self.of_type("AWS::DynamoDB::Table").items()
        return name, table["Properties"]

    def queues(self):
        """Queue logical ids, dead-letter queues first."""
        queues = self.of_type("AWS::SQS::Queue")
        def deps(props):
            target = props.get("RedrivePolicy", {}).get("deadLetterTargetArn")
            return [target.value.split(".")[0]] if isinstance(target, _Tag) else []
        ordered = []
        def visit(name):
            if name in ordered:
                return
            for dep in deps(queues[name].get("Properties", {})):
                visit(dep)
            ordered.append(name)
        for name in queues:
            visit(name)
        return [(name, queues[name].get("Properties", {})) for name in ordered]

    def secrets(self):
        return self.of_type("AWS::SecretsManager::Secret")

    def buckets(self):
        return self.of_type("AWS::S3::Bucket")

    def checkov_skips(self):
        """(resource, skip) of every checkov finding the template skips."""
        for name, resource in self.resources.items():
            for skip in (resource.get("Metadata") or {}).get("checkov", {}).get("skip", []):
                yield name, skip

    def functions(self):
        return self.of_type("AWS::Serverless::Function")

    def binary(self, function):
        return function["Metadata"]["BuildProperties"]["Binary"]

    def sqs_mappings(self):
        out = []
        for fn in self.functions().values():
            for event in fn["Properties"].get("Events", {}).values():
                if event["Type"] == "SQS":
                    p = event["Properties"]
                    out.append(SqsMapping(self.binary(fn), p["Queue"].value.split(".")[0],
                                          int(p.get("BatchSize", 10)), int(p.get("MaximumBatchingWindowInSeconds", 0))))
        return out

    def stream_mappings(self):
        """The DynamoDB Stream event sources (of the table: the template has one)."""
        out = []
        for fn in self.functions().values():
            for event in fn["Properties"].get("Events", {}).values():
                if event["Type"] == "DynamoDB":
                    p = event["Properties"]
                    filters = [json.loads(f["Pattern"]) for f in p.get("FilterCriteria", {}).get("Filters", [])] or [{}]
                    target = p.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
                    out.append(StreamMapping(self.binary(fn), int(p.get("BatchSize", 100)), filters,
                                             int(p.get("MaximumRetryAttempts", 3)), target.value.split(".")[0] if target else None))
        return out

    def schedule_mappings(self):
        """The EventBridge Scheduler `rate(...)` event sources of the functions."""
        out = []
        for fn in self.functions().values():
            for event in fn["Properties"].get("Events", {}).values():
                if event["Type"] == "ScheduleV2":
                    p = event["Properties"]
                    rate = re.fullmatch(r"rate\((\d+) (minute|hour|day)s?\)", p["ScheduleExpression"])
                    if not rate:
                        raise SystemExit(f"[stack] only rate(...) schedules run locally: {p['ScheduleExpression']}")
                    period = int(rate.group(1)) * RATE_UNITS[rate.group(2)]
                    out.append(ScheduleMapping(self.binary(fn), period, json.loads(p.get("Input", "{}"))))
        return out

    def routes(self):
        """(binary, path) of every HTTP API route; the $default route has path None."""
        out = []
        for fn in self.functions().values():
            for event in fn["Properties"].get("Events", {}).values():
                if event["Type"] == "HttpApi":
                    out.append((self.binary(fn), event["Properties"].get("Path")))
        return out

    def parameters(self, **overrides):
        """Template parameters at their defaults, with `overrides` (the local values) applied."""
        values = {name: str(p.get("Default", "")) for name, p in self.doc.get("Parameters", {}).items()}
        unknown = set(overrides) - set(values)
        if unknown:
            raise SystemExit(f"[stack] template.yaml has no parameter {sorted(unknown)}")
        return {**values, **overrides}

    def resolve(self, value, ref):
        """`value` with its intrinsics evaluated; `ref(name)` is what `!Ref name` and `${name}` give."""
        if not isinstance(value, _Tag):
            return value
        name, arg = value.name, value.value
        if name == "Ref":
            return ref(arg)
        if name == "Sub":
            return re.sub(r"\$\{([^}]+)\}", lambda m: str(ref(m.group(1))), arg)
        if name == "If":
            condition, yes, no = arg
            return self.resolve(yes if self.condition(condition, ref) else no, ref)
        if name == "Equals":
            return self.resolve(arg[0], ref) == self.resolve(arg[1], ref)
        if name == "Not":
            return not self.resolve(arg[0], ref)
        if name == "Condition":
            return self.condition(arg, ref)
        raise SystemExit(f"[stack] cannot resolve {value!r} locally")

    def condition(self, name, ref):
        return bool(self.resolve(self.doc["Conditions"][name], ref))

    def environment(self, resolve):
        """Every function's environment variables merged, intrinsics resolved by `resolve`."""
        env = {}
        globals_env = self.doc.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
        for fn in [{"Properties": {"Environment": {"Variables": globals_env}}}, *self.functions().values()]:
            for key, value in fn["Properties"].get("Environment", {}).get("Variables", {}).items():
                env[key] = resolve(value) if isinstance(value, _Tag) else str(value)
        return env

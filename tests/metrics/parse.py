"""Parses Prometheus text from stdin with the official Python client's
parser and prints every sample as JSON: [[name, labels, value], ...].
A line the parser rejects makes it raise, and the test fail."""
import json
import sys

from prometheus_client.parser import text_string_to_metric_families

samples = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for sample in family.samples:
        samples.append([sample.name, sample.labels, sample.value])
json.dump(samples, sys.stdout)

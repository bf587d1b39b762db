"""Tests of the Slack edge: escalation threads, staff replies, 対応完了."""

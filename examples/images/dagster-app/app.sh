#!/bin/sh
echo "dagster $(cat /dagster-version) on python $(cat /python-version)"

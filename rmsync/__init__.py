"""rmsync: declarative, Git-reviewed sync of SailPoint ISC role-mining exports."""

__version__ = "0.1.0.dev0"

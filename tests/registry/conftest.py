from tests.wandb_api.conftest import gql, run_sdk  # noqa: F401  (the API tests' fixtures)

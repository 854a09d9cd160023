"""What the Streamlit app needs beyond ctrpo_core.api, without importing Streamlit: forms, serving."""

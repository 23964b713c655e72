"""The project's meltano.yml as read by Meltano itself (`elt_project.meltano_yml`)."""

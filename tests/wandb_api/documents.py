# ruff: noqa: E501 - the documents are kept byte for byte as the SDK sends them.
"""GraphQL documents embedded in wandb-core 0.31.0 (the Go half of the SDK), as it sends them."""

UPSERT_BUCKET = """
mutation UpsertBucket ($id: String, $name: String, $project: String, $entity: String, $groupName: String, $description: String, $displayName: String, $notes: String, $commit: String, $config: JSONString, $host: String, $debug: Boolean, $program: String, $repo: String, $jobType: String, $state: String, $sweep: String, $tags: [String!], $summaryMetrics: JSONString) {
	upsertBucket(input: {id:$id,name:$name,groupName:$groupName,modelName:$project,entityName:$entity,description:$description,displayName:$displayName,notes:$notes,config:$config,commit:$commit,host:$host,debug:$debug,jobProgram:$program,jobRepo:$repo,jobType:$jobType,state:$state,sweep:$sweep,tags:$tags,summaryMetrics:$summaryMetrics}) {
		bucket {
			id
			name
			displayName
			description
			config
			sweepName
			project {
				id
				name
				entity {
					id
					name
				}
			}
			historyLineCount
		}
		inserted
	}
}
"""

CREATE_RUN_FILES = """
mutation CreateRunFiles ($entity: String!, $project: String!, $run: String!, $files: [String!]!) {
	createRunFiles(input: {entityName:$entity,projectName:$project,runName:$run,files:$files}) {
		runID
		uploadHeaders
		files {
			name
			uploadUrl
		}
	}
}
"""

CREATE_ARTIFACT = """
mutation CreateArtifact ($input: CreateArtifactInput!) {
	createArtifact(input: $input) {
		... CreatedArtifact
	}
}
fragment CreatedArtifact on CreateArtifactPayload {
	artifact {
		id
		state
		artifactSequence {
			latestArtifact {
				id
			}
		}
	}
}
"""

CREATE_ARTIFACT_MANIFEST = """
mutation CreateArtifactManifest ($artifactID: ID!, $baseArtifactID: ID, $name: String!, $digest: String!, $entityName: String!, $projectName: String!, $runName: String!, $manifestType: ArtifactManifestType!, $includeUpload: Boolean!) {
	createArtifactManifest(input: {artifactID:$artifactID,baseArtifactID:$baseArtifactID,name:$name,digest:$digest,entityName:$entityName,projectName:$projectName,runName:$runName,type:$manifestType}) {
		artifactManifest {
			id
			file {
				id
				uploadUrl @include(if: $includeUpload)
				uploadHeaders @include(if: $includeUpload)
			}
		}
	}
}
"""

CREATE_ARTIFACT_FILES = """
mutation CreateArtifactFiles ($input: CreateArtifactFilesInput!) {
	createArtifactFiles(input: $input) {
		files {
			edges {
				node {
					storagePath
					uploadUrl
					uploadHeaders
					uploadMultipartUrls {
						uploadID
						uploadUrlParts {
							partNumber
							uploadUrl
						}
					}
					artifact {
						id
					}
				}
			}
		}
	}
}
"""

COMMIT_ARTIFACT = """
mutation CommitArtifact ($artifactID: ID!) {
	commitArtifact(input: {artifactID:$artifactID}) {
		artifact {
			id
			digest
		}
	}
}
"""

VIEWER = """
query Viewer {
	viewer {
		id
		entity
		username
		email
		flags
		teams {
			edges {
				node {
					name
				}
			}
		}
	}
}
"""

SERVER_FEATURES_QUERY = """
query ServerFeaturesQuery {
	serverInfo {
		features {
			name
			isEnabled
		}
	}
}
"""

ORGANIZATION_CORE_WEAVE_ORGANIZATION_ID = """
query OrganizationCoreWeaveOrganizationID ($entityName: String!) {
	entity(name: $entityName) {
		organization {
			coreWeaveOrganizationId
		}
	}
}
"""

FETCH_ORG_ENTITY_FROM_ENTITY = """
query FetchOrgEntityFromEntity ($entityName: String!) {
	entity(name: $entityName) {
		organization {
			name
			orgEntity {
				name
			}
		}
	}
}
"""

XXHASH_DIGESTS_ENABLED = """
query XXHashDigestsEnabled ($entityName: String!) {
	entity(name: $entityName) {
		xxhashDigestsEnabled
	}
}
"""

RUN_RESUME_STATUS = """
query RunResumeStatus ($project: String, $entity: String, $name: String!) {
	model(name: $project, entityName: $entity) {
		id
		name
		entity {
			id
			name
		}
		bucket(name: $name, missingOk: true) {
			id
			name
			summaryMetrics
			displayName
			logLineCount
			historyLineCount
			eventsLineCount
			historyTail
			eventsTail
			config
			tags
			notes
			wandbConfig(keys: ["t"])
		}
	}
}
"""

RUN_STATE = """
query RunState ($entity: String!, $project: String!, $run: String!) {
	project(name: $project, entityName: $entity) {
		run(name: $run) {
			id
			state
		}
	}
}
"""

QUERY_RUN_INFO = """
query QueryRunInfo ($entity: String!, $project: String!, $run: String!) {
	project(name: $project, entityName: $entity) {
		run(name: $run) {
			displayName
			summaryMetrics
		}
	}
}
"""

MARK_RUN_FILES_UPLOADED = """
mutation MarkRunFilesUploaded ($entity: String!, $project: String!, $run: String!, $files: [String!]!) {
	markRunFilesUploaded(input: {entityName:$entity,projectName:$project,runName:$run,files:$files}) {
		success
	}
}
"""

UPDATE_ARTIFACT_MANIFEST = """
mutation UpdateArtifactManifest ($artifactManifestID: ID!, $digest: String, $baseArtifactID: ID, $includeUpload: Boolean!) {
	updateArtifactManifest(input: {artifactManifestID:$artifactManifestID,digest:$digest,baseArtifactID:$baseArtifactID}) {
		artifactManifest {
			id
			file {
				id
				uploadUrl @include(if: $includeUpload)
				uploadHeaders @include(if: $includeUpload)
			}
		}
	}
}
"""

FETCH_ARTIFACT_DIGEST_ALGORITHM = """
query FetchArtifactDigestAlgorithm ($entityName: String!, $projectName: String!, $artifactTypeName: String!, $artifactCollectionName: String!) {
	project(name: $projectName, entityName: $entityName) {
		artifactType(name: $artifactTypeName) {
			artifactCollection(name: $artifactCollectionName) {
				__typename
				... on ArtifactSequence {
					digestAlgorithm
				}
			}
		}
	}
}
"""

CLIENT_ID_MAPPING = """
query ClientIDMapping ($clientID: ID!) {
	clientIDMapping(clientID: $clientID) {
		serverID
	}
}
"""

ARTIFACT_MANIFEST = """
query ArtifactManifest ($artifact_id: ID!) {
	artifact(id: $artifact_id) {
		currentManifest {
			file {
				directUrl
			}
		}
	}
}
"""

ORG_FEATURE_FLAGS = """
query OrgFeatureFlags ($org: String!) {
	organization(name: $org) {
		featureFlags(rampIDType: OrgName) {
			rampKey
			isEnabled
		}
	}
}
"""

USE_ARTIFACT = """
mutation UseArtifact ($input: UseArtifactInput!) {
	useArtifact(input: $input) {
		artifact {
			id
		}
	}
}
"""

LINK_ARTIFACT = """
mutation LinkArtifact ($artifactPortfolioName: String!, $entityName: String!, $projectName: String!, $aliases: [ArtifactAliasInput!], $clientId: ID, $artifactId: ID) {
	linkArtifact(input: {artifactPortfolioName:$artifactPortfolioName,entityName:$entityName,projectName:$projectName,aliases:$aliases,artifactID:$artifactId,clientID:$clientId}) {
		versionIndex
	}
}
"""

HISTORY_PAGE = """
query HistoryPage ($entity: String!, $project: String!, $run: String!, $minStep: Int64!, $maxStep: Int64!, $pageSize: Int!) {
	project(name: $project, entityName: $entity) {
		run(name: $run) {
			history(minStep: $minStep, maxStep: $maxStep, samples: $pageSize)
		}
	}
}
"""

SAMPLED_HISTORY_PAGE = """
query SampledHistoryPage ($entity: String!, $project: String!, $run: String!, $spec: JSONString!) {
	project(name: $project, entityName: $entity) {
		run(name: $run) {
			sampledHistory(specs: [$spec])
		}
	}
}
"""

RUN_PARQUET_HISTORY = """
query RunParquetHistory ($entity: String!, $project: String!, $runName: String!, $liveKeys: [String!]!) {
	project(name: $project, entityName: $entity) {
		run(name: $runName) {
			parquetHistory(liveKeys: $liveKeys) {
				parquetUrls
				liveData
			}
		}
	}
}
"""
